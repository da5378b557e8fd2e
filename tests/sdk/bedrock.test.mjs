// The official openai SDK (Node) against conduit with a Bedrock provider:
// the mock speaks Converse / ConverseStream and verifies every SigV4
// signature, conduit translates both ways (the stream from AWS's event
// stream to SSE). The shared checks of dialect.mjs, and what only Converse
// has. Run with `node --test bedrock.test.mjs` from this folder; CONDUIT_BIN
// and MOCK_BIN point at the binaries (default: ../../build/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";
import { dialectTests, messages } from "./dialect.mjs";

const KEY_ID = "AKIDSDKEXAMPLE";
const SECRET = "sdk/Secret+Key0123456789EXAMPLE";

let stack;

before(async () => {
  stack = await startStack({
    providers: (mockPort) => `
  - {name: br, type: bedrock, base_url: "http://127.0.0.1:${mockPort}", region: us-west-2,
     aws_access_key_id: "${KEY_ID}", aws_secret_access_key: "${SECRET}"}`,
    models: `
  - {name: claude-bedrock, provider: br, model: "anthropic.claude-3-5-sonnet-20240620-v1:0"}`,
    mockArgs: ["--aws-access-key-id", KEY_ID, "--aws-secret-access-key", SECRET],
  });
});

after(() => stack?.stop());

dialectTests("bedrock", () => stack.client, {
  model: "claude-bedrock",
  cached: 3,
  toolId: /^tooluse_mock_1$/,
  refused: { extra: { n: 2 }, param: "n" },
});

test("bedrock: a conversation Converse cannot take is refused, naming messages", async () => {
  await assert.rejects(
    stack.client.chat.completions.create({
      model: "claude-bedrock", messages: [{ role: "assistant", content: "Hi!" }, ...messages],
    }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "messages");
      return true;
    },
  );
});
