// The official OpenAI SDK, unchanged, against `modelpool serve`.
//   node sdk_test.mjs http://127.0.0.1:PORT API_KEY
import OpenAI from "openai";
import assert from "node:assert/strict";

const [baseURL, apiKey] = [process.argv[2] + "/v1", process.argv[3] || "none"];
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });

const models = await client.models.list();
const ids = models.data.map((m) => m.id);
assert.ok(ids.includes("default"), `models: ${ids}`);

const chat = await client.chat.completions.create({
  model: "default",
  messages: [{ role: "user", content: "Say hello" }],
  max_tokens: 8,
  temperature: 0,
});
assert.equal(chat.object, "chat.completion");
assert.equal(chat.choices[0].message.role, "assistant");
assert.ok(chat.choices[0].message.content.length > 0);
assert.equal(chat.usage.completion_tokens, 8);
assert.equal(chat.choices[0].finish_reason, "length");

const stream = await client.chat.completions.create({
  model: "default",
  messages: [{ role: "user", content: "Count" }],
  max_tokens: 12,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let chunks = 0;
let finish = null;
let usage = null;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.delta?.content ?? "";
    if (c.finish_reason) finish = c.finish_reason;
  }
}
assert.ok(chunks >= 3, `chunks: ${chunks}`);
assert.ok(text.length > 0);
assert.equal(finish, "length");
assert.equal(usage?.completion_tokens, 12);

// The same greedy request streamed and not streamed gives the same text.
const once = await client.completions.create({ model: "default", prompt: "Once upon", max_tokens: 10, temperature: 0 });
let streamed = "";
for await (const c of await client.completions.create({ model: "default", prompt: "Once upon", max_tokens: 10, temperature: 0, stream: true })) {
  streamed += c.choices[0]?.text ?? "";
}
assert.equal(streamed, once.choices[0].text);

// Errors come back as the SDK's typed errors.
await assert.rejects(client.completions.create({ model: "nope", prompt: "x" }), (e) => e.status === 404);
console.log("openai sdk: all checks passed");
