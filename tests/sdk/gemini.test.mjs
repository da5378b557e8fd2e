// The official openai SDK (Node) against conduit and the mock's Gemini API
// (v1beta, strict about x-goog-api-key and every field): the shared checks of
// dialect.mjs, and what only Gemini has (the SDK's own stream helper, output
// dimensions, a wrong key). Run with `node --test gemini.test.mjs` from this
// folder; CONDUIT_BIN and MOCK_BIN point at the binaries (default: ../../build/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";
import { dialectTests, messages, tools } from "./dialect.mjs";

let stack;

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
});

after(() => stack?.stop());

dialectTests("gemini", () => stack.client, {
  model: "gemini-flash",
  cached: 3,
  toolId: /^call_/,
  embed: { model: "gemini-embed", countsTokens: false },
  refused: { extra: { logit_bias: { 50256: -100 } }, param: "logit_bias" },
});

test("gemini: the SDK's stream helper accumulates a streamed tool call", async () => {
  const stream = stack.client.chat.completions.stream({
    model: "gemini-flash", messages, tools, mock: { tool: true },
  });
  const final = await stream.finalChatCompletion();
  const sc = final.choices[0].message.tool_calls[0];
  assert.equal(final.choices[0].finish_reason, "tool_calls");
  assert.equal(sc.function.name, "get_weather");
  assert.deepEqual(JSON.parse(sc.function.arguments), { city: "Paris", unit: "c" });
});

test("gemini: dimensions, as floats and as base64 float32", async () => {
  const f = await stack.client.embeddings.create({
    model: "gemini-embed", input: "a", encoding_format: "float", dimensions: 3,
  });
  assert.equal(f.data[0].embedding.length, 3);
  const b = await stack.client.embeddings.create({ model: "gemini-embed", input: "a", dimensions: 3 });
  for (let i = 0; i < 3; i++)
    assert.ok(Math.abs(b.data[0].embedding[i] - f.data[0].embedding[i]) < 1e-6);
});

test("gemini: a key Google refuses is the SDK's AuthenticationError", async () => {
  await assert.rejects(stack.client.chat.completions.create({ model: "gemini-badkey", messages }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.code, "invalid_api_key");
    return true;
  });
});
