// The official openai SDK (Node) against conduit and the mock's Gemini API
// (v1beta, strict about x-goog-api-key and every field): answers, streams,
// tool calls plain and streamed (accumulated by the SDK's own stream helper),
// embeddings in the SDK's default base64 encoding and as floats, and errors
// as the SDK's typed errors. Run with `node --test gemini.test.mjs` from this
// folder; CONDUIT_BIN and MOCK_BIN point at the binaries (default: ../../build/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";

let stack;
let client;

before(async () => {
  stack = await startStack({
    providers: (mockPort) => `
  - {name: gem, type: gemini, base_url: "http://127.0.0.1:${mockPort}", api_key: "up"}
  - {name: gembad, type: gemini, base_url: "http://127.0.0.1:${mockPort}", api_key: "wrong"}`,
    models: `
  - {name: gemini-flash, provider: gem, model: gemini-2.5-flash}
  - {name: gemini-embed, provider: gem, model: text-embedding-004}
  - {name: gemini-badkey, provider: gembad, model: gemini-2.5-flash}`,
  });
  client = stack.client;
});

after(() => stack?.stop());

const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }];
const tools = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];

test("gemini: completion, finish reason and usage", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "gemini-flash", messages, mock: { chunks: 3 } })
    .withResponse();
  assert.equal(data.object, "chat.completion");
  assert.equal(data.model, "gemini-flash");
  assert.match(data.id, /^chatcmpl-/);
  assert.equal(data.choices.length, 1);
  assert.equal(data.choices[0].message.role, "assistant");
  assert.equal(data.choices[0].message.content, "tok0 tok1 tok2");
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.equal(data.usage.completion_tokens, 3);
  assert.equal(data.usage.prompt_tokens_details.cached_tokens, 3);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + 3);
  assert.match(response.headers.get("x-request-id"), /^req_/);
});

test("gemini: stream, deltas in order, usage only when asked", async () => {
  const stream = await client.chat.completions.create({
    model: "gemini-flash", messages, stream: true, mock: { chunks: 4 },
  });
  let text = "";
  let finish = null;
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.ok(chunk.choices.length > 0, "a usage-only chunk reached a client that did not ask");
    role ??= chunk.choices[0].delta.role ?? null;
    text += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(role, "assistant");
  assert.equal(text, "tok0 tok1 tok2 tok3 ");
  assert.equal(finish, "stop");

  const withUsage = await client.chat.completions.create({
    model: "gemini-flash", messages, stream: true, stream_options: { include_usage: true },
    mock: { chunks: 2 },
  });
  let last;
  for await (const chunk of withUsage) last = chunk;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 2);
});

test("gemini: tool calls, plain and streamed through the SDK's stream helper", async () => {
  const r = await client.chat.completions.create({
    model: "gemini-flash", messages, tools, tool_choice: "required", mock: { tool: true },
  });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  assert.equal(call.type, "function");
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "c" });

  const stream = client.chat.completions.stream({
    model: "gemini-flash", messages, tools, mock: { tool: true },
  });
  const final = await stream.finalChatCompletion();
  const sc = final.choices[0].message.tool_calls[0];
  assert.equal(final.choices[0].finish_reason, "tool_calls");
  assert.equal(sc.function.name, "get_weather");
  assert.deepEqual(JSON.parse(sc.function.arguments), { city: "Paris", unit: "c" });

  // The result goes back; the strict mock takes the translated functionResponse.
  const follow = await client.chat.completions.create({
    model: "gemini-flash", tools, mock: { chunks: 1 },
    messages: [...messages, r.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temp_c: 18 }) }],
  });
  assert.equal(follow.choices[0].message.content, "tok0");
});

test("gemini: embeddings, base64 by default and floats when asked", async () => {
  const r = await client.embeddings.create({ model: "gemini-embed", input: ["a", "b"] });
  assert.equal(r.object, "list");
  assert.equal(r.model, "gemini-embed");
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].index, 1);
  assert.equal(r.data[0].embedding.length, 8);
  assert.equal(r.usage.prompt_tokens, 0);
  const norm = Math.hypot(...r.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-4, `unit vector, got norm ${norm}`);

  const f = await client.embeddings.create({
    model: "gemini-embed", input: "a", encoding_format: "float", dimensions: 3,
  });
  assert.equal(f.data[0].embedding.length, 3);
  const b = await client.embeddings.create({ model: "gemini-embed", input: "a", dimensions: 3 });
  // base64 carries float32: the same vector as the floats, at float32 precision.
  for (let i = 0; i < 3; i++)
    assert.ok(Math.abs(b.data[0].embedding[i] - f.data[0].embedding[i]) < 1e-6);
});

test("gemini: errors arrive as the SDK's typed errors", async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: "gemini-flash", messages, mock: { status: 429, retry_after: "2" },
    }),
    (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, "rate_limit_exceeded");
      assert.equal(e.headers.get("retry-after"), "2");
      return true;
    },
  );
  await assert.rejects(client.chat.completions.create({ model: "gemini-badkey", messages }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.code, "invalid_api_key");
    return true;
  });
  await assert.rejects(
    client.chat.completions.create({ model: "gemini-flash", messages, logit_bias: { 50256: -100 } }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "logit_bias");
      return true;
    },
  );
});
