// The official openai SDK (Node) against the real conduit binary with a model
// served by Cohere's v2 API (the mock speaks it, strictly): the shared checks
// of dialect.mjs, and what only Cohere has. Run with `node --test
// cohere.test.mjs` from this folder; CONDUIT_BIN and MOCK_BIN point at the
// binaries (default: ../../build/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";
import { dialectTests, messages } from "./dialect.mjs";

let stack;

before(async () => {
  stack = await startStack({
    providers: (mockPort) => `
  - {name: co, type: cohere, base_url: "http://127.0.0.1:${mockPort}", api_key: "up"}`,
    models: `
  - {name: command, provider: co, model: command-a-03-2025}
  - {name: co-embed, provider: co, model: embed-v4.0}`,
  });
});

after(() => stack?.stop());

dialectTests("cohere", () => stack.client, {
  model: "command",
  cached: 3,
  embed: { model: "co-embed", countsTokens: true },
  refused: { extra: { n: 2 }, param: "n" },
});

test("cohere: a missing model is the SDK's NotFoundError with Cohere's message", async () => {
  await assert.rejects(
    stack.client.chat.completions.create({ model: "command", messages, mock: { status: 404 } }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.match(e.message, /not found/);
      return true;
    },
  );
});

test("cohere: a tool call's content stays null (the tool plan is not content)", async () => {
  const r = await stack.client.chat.completions.create({
    model: "command", messages, tool_choice: "required", mock: { tool: true },
    tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
  });
  assert.equal(r.choices[0].message.content, null);
});
