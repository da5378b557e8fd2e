// The checks every model behind Conduit passes through the official openai
// SDK, whichever dialect serves it: Conduit answers in OpenAI's shape (one
// writer for all translated dialects), so the same client code must work.
// dialectTests(label, getClient, opts) registers them in the calling file;
// each file adds what only its dialect has.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

export const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }];
export const tools = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];

// Reads a whole stream: the text, the finish reason, the first role, the last
// chunk, and tool call 0's name, id and joined arguments.
export async function drain(stream) {
  const out = { text: "", finish: null, role: null, last: null, name: null, id: null, args: "" };
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    out.last = chunk;
    const c = chunk.choices[0];
    out.text += c?.delta?.content ?? "";
    out.finish = c?.finish_reason ?? out.finish;
    out.role ??= c?.delta?.role ?? null;
    const tc = c?.delta?.tool_calls?.[0];
    if (tc?.function?.name) out.name = tc.function.name;
    if (tc?.id) out.id = tc.id;
    out.args += tc?.function?.arguments ?? "";
  }
  return out;
}

// opts: model (chat), cached (the mock's cached tokens, checked when given),
// toolId (a RegExp the tool call id must match), embed ({ model,
// countsTokens }), refused ({ extra, param }: a request the dialect cannot
// express), answeredModel (the model an answer names when it is not the
// client's: a pass-through answer keeps the upstream's), noTools (the mock's
// dialect has no tool calls), noCutCheck (skip the cut-stream check).
export function dialectTests(label, getClient, opts) {
  const { model } = opts;

  test(`${label}: completion through the OpenAI SDK`, async () => {
    const { data: r, response } = await getClient().chat.completions
      .create({ model, messages, max_tokens: 100, mock: { chunks: 2 } })
      .withResponse();
    assert.equal(r.object, "chat.completion");
    assert.equal(r.model, opts.answeredModel ?? model);
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, "assistant");
    assert.equal(r.choices[0].message.content, "tok0 tok1");
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.usage.completion_tokens, 2);
    if (opts.cached !== undefined)
      assert.equal(r.usage.prompt_tokens_details.cached_tokens, opts.cached);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    assert.match(response.headers.get("x-request-id"), /^req_/);
  });

  test(`${label}: stream through the OpenAI SDK, usage only when asked`, async () => {
    const client = getClient();
    const s = await drain(await client.chat.completions.create({
      model, messages, stream: true, mock: { chunks: 3 },
    }));
    assert.equal(s.role, "assistant");
    assert.equal(s.text, "tok0 tok1 tok2 ");
    assert.equal(s.finish, "stop");
    assert.ok(s.last.choices.length > 0 && !("usage" in s.last),
      "usage shown to a client that did not ask");

    const u = await drain(await client.chat.completions.create({
      model, messages, stream: true, stream_options: { include_usage: true }, mock: { chunks: 2 },
    }));
    assert.deepEqual(u.last.choices, []);
    assert.equal(u.last.usage.completion_tokens, 2);
  });

  if (!opts.noTools) test(`${label}: tool calls through the OpenAI SDK, plain, answered and streamed`, async () => {
    const client = getClient();
    const r = await client.chat.completions.create({
      model, messages, tools, tool_choice: "required", mock: { tool: true },
    });
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "get_weather");
    if (opts.toolId) assert.match(call.id, opts.toolId);
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "c" });

    // The conversation goes on with the tool's answer, in OpenAI's shape.
    const next = await client.chat.completions.create({
      model, tools, mock: { chunks: 1 },
      messages: [...messages, r.choices[0].message,
        { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temp: 18 }) }],
    });
    assert.equal(next.choices[0].message.content, "tok0");

    const s = await drain(await client.chat.completions.create({
      model, messages, tools, stream: true, mock: { tool: true },
    }));
    assert.equal(s.name, "get_weather");
    assert.ok(s.id);
    if (opts.toolId) assert.match(s.id, opts.toolId);
    assert.equal(s.finish, "tool_calls");
    assert.deepEqual(JSON.parse(s.args), { city: "Paris", unit: "c" });
  });

  if (opts.embed) {
    test(`${label}: embeddings through the OpenAI SDK (base64 by default, and float)`, async () => {
      const client = getClient();
      const em = opts.embed.model;
      // The SDK asks for base64 and decodes it: the numbers must survive the trip.
      const b = await client.embeddings.create({ model: em, input: ["a", "b"] });
      assert.equal(b.object, "list");
      assert.equal(b.model, em);
      assert.equal(b.data.length, 2);
      assert.equal(b.data[1].index, 1);
      assert.equal(b.data[0].embedding.length, 8);
      if (opts.embed.countsTokens) assert.ok(b.usage.prompt_tokens > 0);
      else assert.equal(b.usage.prompt_tokens, 0);
      const norm = Math.hypot(...b.data[0].embedding);
      assert.ok(Math.abs(norm - 1) < 1e-4, `not a unit vector: ${norm}`);
      const f = await client.embeddings.create({ model: em, input: ["a", "b"], encoding_format: "float" });
      for (let i = 0; i < 8; i++)
        assert.ok(Math.abs(f.data[0].embedding[i] - b.data[0].embedding[i]) < 1e-6);
      assert.notDeepEqual(f.data[0].embedding, f.data[1].embedding);
    });
  }

  test(`${label}: errors arrive as the SDK's typed errors`, async () => {
    const client = getClient();
    await assert.rejects(
      client.chat.completions.create({ model, messages, mock: { status: 429, retry_after: "2" } }),
      (e) => {
        assert.ok(e instanceof OpenAI.RateLimitError);
        assert.equal(e.code, "rate_limit_exceeded");
        assert.equal(e.headers.get("retry-after"), "2");
        return true;
      },
    );
    if (opts.refused) {
      await assert.rejects(
        client.chat.completions.create({ model, messages, ...opts.refused.extra }),
        (e) => {
          assert.ok(e instanceof OpenAI.BadRequestError);
          assert.equal(e.param, opts.refused.param);
          return true;
        },
      );
    }
  });

  if (opts.noCutCheck) return;
  test(`${label}: a stream the provider cuts ends with an error the SDK raises`, async () => {
    const stream = await getClient().chat.completions.create({
      model, messages, stream: true, mock: { chunks: 6, fault: "close_mid_stream" },
    });
    await assert.rejects(drain(stream), (e) => {
      // The gateway's error chunk, not a broken connection.
      assert.ok(e instanceof OpenAI.APIError, `${e}`);
      assert.ok(!(e instanceof OpenAI.APIConnectionError), `${e}`);
      assert.equal(e.error?.type ?? e.type, "server_error");
      return true;
    });
  });
}
