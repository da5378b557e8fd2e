// The official openai SDK (Node) against conduit with a Bedrock provider:
// the mock speaks Converse / ConverseStream and verifies every SigV4
// signature, conduit translates both ways (the stream from AWS's event
// stream to SSE). Run with `node --test bedrock.test.mjs` from this folder;
// CONDUIT_BIN and MOCK_BIN point at the binaries (default: ../../build/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack } from "./lib.mjs";

const KEY_ID = "AKIDSDKEXAMPLE";
const SECRET = "sdk/Secret+Key0123456789EXAMPLE";

let stack;
let client;

before(async () => {
  stack = await startStack({
    providers: (mockPort) => `
  - {name: br, type: bedrock, base_url: "http://127.0.0.1:${mockPort}", region: us-west-2,
     aws_access_key_id: "${KEY_ID}", aws_secret_access_key: "${SECRET}"}`,
    models: `
  - {name: claude-bedrock, provider: br, model: "anthropic.claude-3-5-sonnet-20240620-v1:0"}`,
    mockArgs: ["--aws-access-key-id", KEY_ID, "--aws-secret-access-key", SECRET],
  });
  client = stack.client;
});

after(() => stack?.stop());

const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }];
const tools = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];

test("bedrock: completion through the OpenAI SDK", async () => {
  const r = await client.chat.completions.create({
    model: "claude-bedrock", messages, max_tokens: 100, temperature: 0.2, mock: { chunks: 2 },
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, "claude-bedrock");
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, "tok0 tok1");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.usage.completion_tokens, 2);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 3);
  assert.ok(r.usage.prompt_tokens > 3);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test("bedrock: stream through the OpenAI SDK, usage only when asked", async () => {
  let stream = await client.chat.completions.create({
    model: "claude-bedrock", messages, stream: true, mock: { chunks: 3 },
  });
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.ok(chunk.choices.length > 0, "a usage chunk reached a client that did not ask");
    text += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(text, "tok0 tok1 tok2 ");
  assert.equal(finish, "stop");

  stream = await client.chat.completions.create({
    model: "claude-bedrock", messages, stream: true, stream_options: { include_usage: true },
    mock: { chunks: 2 },
  });
  let last;
  for await (const chunk of stream) last = chunk;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 2);
  assert.equal(last.usage.prompt_tokens_details.cached_tokens, 3);
});

test("bedrock: tool calls through the OpenAI SDK, plain and streamed", async () => {
  const r = await client.chat.completions.create({
    model: "claude-bedrock", messages, tools, tool_choice: "auto", mock: { tool: true },
  });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  assert.equal(call.type, "function");
  assert.equal(call.id, "tooluse_mock_1");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "c" });

  // The tool's result goes back; Converse wants it in a user turn after the toolUse.
  const r2 = await client.chat.completions.create({
    model: "claude-bedrock", tools, mock: { chunks: 1 },
    messages: [...messages, r.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temp: 18 }) }],
  });
  assert.equal(r2.choices[0].message.content, "tok0");

  const stream = await client.chat.completions.create({
    model: "claude-bedrock", messages, tools, stream: true, mock: { tool: true },
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
  assert.equal(id, "tooluse_mock_1");
  assert.equal(finish, "tool_calls");
  assert.deepEqual(JSON.parse(args), { city: "Paris", unit: "c" });
});

test("bedrock: errors arrive as the SDK's typed errors", async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: "claude-bedrock", messages, mock: { status: 429, retry_after: "2" },
    }),
    (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, "rate_limit_exceeded");
      assert.equal(e.headers.get("retry-after"), "2");
      return true;
    },
  );
  await assert.rejects(
    client.chat.completions.create({
      model: "claude-bedrock", messages: [{ role: "assistant", content: "Hi!" }, ...messages],
    }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "messages");
      return true;
    },
  );
  await assert.rejects(
    client.chat.completions.create({ model: "claude-bedrock", messages, n: 2 }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "n");
      return true;
    },
  );
});
