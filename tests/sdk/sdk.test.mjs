// The official openai SDK (Node) against the real conduit binary and the mock
// provider on loopback: what the README promises a client, checked with the
// client itself. Run with `node --test` from this folder after `npm ci`;
// CONDUIT_BIN and MOCK_BIN point at the binaries (default: ../../build/).
// The OpenAI family and Anthropic here (the shared checks of dialect.mjs);
// each other dialect has its own file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";
import { dialectTests } from "./dialect.mjs";

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

// A pass-through answer names the upstream's model; the mock's OpenAI dialect has no tool calls.
dialectTests("openai", () => client, { model: "gpt-4o-mini", answeredModel: "mock-chat", noTools: true });

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

test("gateway errors arrive as the SDK's typed errors", async () => {
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
});

// Anthropic behind the same OpenAI client: Conduit translates both ways.
dialectTests("anthropic", () => client, { model: "claude-sonnet", cached: 3 });
