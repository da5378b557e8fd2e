// The official openai SDK (Node) against the real conduit binary and the mock
// provider on loopback: what the README promises a client, checked with the
// client itself. Run with `node --test` from this folder after `npm ci`;
// CONDUIT_BIN and MOCK_BIN point at the binaries (default: ../../build/).
// The OpenAI family and Anthropic here; each other dialect has its own file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";

let stack;
let client;

before(async () => {
  stack = await startStack({
    providers: (mockPort) => `
  - {name: mock, type: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "up"}
  - {name: claude, type: anthropic, base_url: "http://127.0.0.1:${mockPort}", api_key: "up"}`,
    models: `
  - {name: gpt-4o-mini, provider: mock, model: mock-chat}
  - {name: text-embedding-3-small, provider: mock, model: mock-embed}
  - {name: claude-sonnet, provider: claude, model: claude-sonnet-4-5}`,
  });
  client = stack.client;
});

after(() => stack?.stop());

const messages = [{ role: "user", content: "Hello" }];

test("chat completion: content, finish reason and usage", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "gpt-4o-mini", messages, mock: { chunks: 3 } })
    .withResponse();
  assert.equal(data.object, "chat.completion");
  assert.equal(data.choices[0].message.content, "tok0 tok1 tok2");
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.equal(data.usage.completion_tokens, 3);
  assert.match(response.headers.get("x-request-id"), /^req_/);
});

test("streamed chat completion: deltas in order, no usage chunk unless asked", async () => {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini", messages, stream: true, mock: { chunks: 4 },
  });
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.ok(chunk.choices.length > 0, "a usage-only chunk reached a client that did not ask");
    assert.ok(!("usage" in chunk), "usage member shown to a client that did not ask");
    text += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(text, "tok0 tok1 tok2 tok3 ");
  assert.equal(finish, "stop");
});

test("streamed chat completion with include_usage ends with the usage chunk", async () => {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini", messages, stream: true,
    stream_options: { include_usage: true }, mock: { chunks: 2 },
  });
  let last;
  for await (const chunk of stream) last = chunk;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 2);
});

test("embeddings", async () => {
  const r = await client.embeddings.create({ model: "text-embedding-3-small", input: ["a", "b"] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].index, 1);
  assert.ok(r.data[0].embedding.length > 0);
});

test("models list shows the configured names", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ["claude-sonnet", "gpt-4o-mini", "text-embedding-3-small"]);
});

test("errors arrive as the SDK's typed errors", async () => {
  const bad = new OpenAI({ baseURL: client.baseURL, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: "gpt-4o-mini", messages }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.code, "invalid_api_key");
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: "nope", messages }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.code, "model_not_found");
    return true;
  });
  await assert.rejects(
    client.chat.completions.create({
      model: "gpt-4o-mini", messages, mock: { status: 429, retry_after: "2" },
    }),
    (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.headers.get("retry-after"), "2");
      return true;
    },
  );
});

// Anthropic behind the same OpenAI client: the answer, stream and tool calls
// come back in OpenAI's shape (Conduit translates both ways).
const tools = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];

test("anthropic: completion through the OpenAI SDK", async () => {
  const r = await client.chat.completions.create({
    model: "claude-sonnet", messages: [{ role: "system", content: "Be brief." }, ...messages],
    mock: { chunks: 2 },
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, "claude-sonnet");
  assert.equal(r.choices[0].message.content, "tok0 tok1");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.usage.completion_tokens, 2);
});

test("anthropic: stream through the OpenAI SDK, usage when asked", async () => {
  const stream = await client.chat.completions.create({
    model: "claude-sonnet", messages, stream: true, stream_options: { include_usage: true },
    mock: { chunks: 3 },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(text, "tok0 tok1 tok2 ");
  assert.equal(usage.completion_tokens, 3);
});

test("anthropic: tool calls through the OpenAI SDK, plain and streamed", async () => {
  const r = await client.chat.completions.create({
    model: "claude-sonnet", messages, tools, mock: { tool: true },
  });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "c" });

  const stream = await client.chat.completions.create({
    model: "claude-sonnet", messages, tools, stream: true, mock: { tool: true },
  });
  let args = "";
  let name = null;
  for await (const chunk of stream) {
    const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
    if (tc?.function?.name) name = tc.function.name;
    args += tc?.function?.arguments ?? "";
  }
  assert.equal(name, "get_weather");
  assert.deepEqual(JSON.parse(args), { city: "Paris", unit: "c" });
});
