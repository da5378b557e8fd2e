// The official openai SDK (Node) against the real conduit binary with a model
// served by Cohere's v2 API (the mock speaks it, strictly): answers, streams,
// tool calls, embeddings and errors come back in OpenAI's shape. Run with
// `node --test cohere.test.mjs` from this folder; CONDUIT_BIN and MOCK_BIN
// point at the binaries (default: ../../build/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";

let stack;
let client;

before(async () => {
  stack = await startStack({
    providers: (mockPort) => `
  - {name: co, type: cohere, base_url: "http://127.0.0.1:${mockPort}", api_key: "up"}`,
    models: `
  - {name: command, provider: co, model: command-a-03-2025}
  - {name: co-embed, provider: co, model: embed-v4.0}`,
  });
  client = stack.client;
});

after(() => stack?.stop());

const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }];
const tools = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];

test("cohere: completion through the OpenAI SDK", async () => {
  const { data: r, response } = await client.chat.completions
    .create({ model: "command", messages, mock: { chunks: 2 } })
    .withResponse();
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, "command");
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, "tok0 tok1");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.usage.completion_tokens, 2);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 3);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 2);
  assert.match(response.headers.get("x-request-id"), /^req_/);
});

test("cohere: stream through the OpenAI SDK, usage only when asked", async () => {
  let stream = await client.chat.completions.create({
    model: "command", messages, stream: true, mock: { chunks: 3 },
  });
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.ok(chunk.choices.length > 0, "a usage-only chunk reached a client that did not ask");
    text += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(text, "tok0 tok1 tok2 ");
  assert.equal(finish, "stop");

  stream = await client.chat.completions.create({
    model: "command", messages, stream: true, stream_options: { include_usage: true },
    mock: { chunks: 2 },
  });
  let last;
  for await (const chunk of stream) last = chunk;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 2);
});

test("cohere: tool calls through the OpenAI SDK, plain and streamed", async () => {
  const r = await client.chat.completions.create({
    model: "command", messages, tools, tool_choice: "required", mock: { tool: true },
  });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  assert.equal(r.choices[0].message.content, null);
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "c" });

  // The conversation goes on with the tool's answer, in OpenAI's shape.
  const next = await client.chat.completions.create({
    model: "command",
    messages: [...messages, r.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: "18C" }],
    tools, mock: { chunks: 1 },
  });
  assert.equal(next.choices[0].message.content, "tok0");

  const stream = await client.chat.completions.create({
    model: "command", messages, tools, stream: true, mock: { tool: true },
  });
  let args = "";
  let name = null;
  let id = null;
  let finish = null;
  for await (const chunk of stream) {
    const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
    if (tc?.function?.name) name = tc.function.name;
    if (tc?.id) id = tc.id;
    args += tc?.function?.arguments ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(name, "get_weather");
  assert.ok(id);
  assert.deepEqual(JSON.parse(args), { city: "Paris", unit: "c" });
  assert.equal(finish, "tool_calls");
});

test("cohere: embeddings through the OpenAI SDK (base64 by default, and float)", async () => {
  // The SDK asks for base64 and decodes it: the numbers must survive the trip.
  const b = await client.embeddings.create({ model: "co-embed", input: ["a", "b"] });
  assert.equal(b.data.length, 2);
  assert.equal(b.data[1].index, 1);
  assert.equal(b.data[0].embedding.length, 8);
  assert.ok(b.usage.prompt_tokens > 0);
  const norm = Math.hypot(...b.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-4, `not a unit vector: ${norm}`);

  const f = await client.embeddings.create({
    model: "co-embed", input: ["a", "b"], encoding_format: "float",
  });
  for (let i = 0; i < 8; i++)
    assert.ok(Math.abs(f.data[0].embedding[i] - b.data[0].embedding[i]) < 1e-6);
  assert.notDeepEqual(f.data[0].embedding, f.data[1].embedding);
});

test("cohere: errors arrive as the SDK's typed errors", async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: "command", messages, mock: { status: 429, retry_after: "2" },
    }),
    (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, "rate_limit_exceeded");
      assert.equal(e.headers.get("retry-after"), "2");
      return true;
    },
  );
  await assert.rejects(
    client.chat.completions.create({ model: "command", messages, mock: { status: 404 } }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.match(e.message, /not found/);
      return true;
    },
  );
  // What Cohere cannot express is refused by the gateway, naming the field.
  await assert.rejects(client.chat.completions.create({ model: "command", messages, n: 2 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, "n");
    return true;
  });
});
