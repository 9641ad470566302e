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

// ---- OpenAI compatibility
const card = await client.models.retrieve("default");
assert.equal(card.id, "default");
assert.equal(card.object, "model");
assert.ok(card.max_model_len > 0, `max_model_len: ${JSON.stringify(card)}`);
await assert.rejects(client.models.retrieve("nope"), (e) => e instanceof OpenAI.NotFoundError);

const parts = await client.chat.completions.create({
  model: "default",
  messages: [{ role: "user", content: [{ type: "text", text: "Say" }, { type: "text", text: "hello" }] }],
  max_tokens: 4,
  temperature: 0,
});
assert.equal(parts.choices[0].message.role, "assistant");
assert.equal(parts.usage.completion_tokens, 4);

// A field the server does not implement is refused by name, never ignored.
await assert.rejects(
  client.chat.completions.create({
    model: "default",
    messages: [{ role: "user", content: "Hi" }],
    tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
  }),
  (e) => e instanceof OpenAI.BadRequestError && /tools: not supported/.test(e.message),
);

const schema = {
  type: "object",
  properties: { answer: { type: "string", enum: ["yes", "no"] } },
  required: ["answer"],
  additionalProperties: false,
};
const structured = await client.chat.completions.create({
  model: "default",
  messages: [{ role: "user", content: "Yes or no?" }],
  max_tokens: 64,
  temperature: 0,
  response_format: { type: "json_schema", json_schema: { name: "answer", strict: true, schema } },
});
assert.equal(structured.choices[0].finish_reason, "stop");
assert.ok(["yes", "no"].includes(JSON.parse(structured.choices[0].message.content).answer),
  structured.choices[0].message.content);

const anyJson = await client.chat.completions.create({
  model: "default",
  messages: [{ role: "user", content: "JSON please" }],
  max_tokens: 48,
  temperature: 0,
  response_format: { type: "json_object" },
});
const jsonText = anyJson.choices[0].message.content;
assert.ok(jsonText.trimStart().startsWith("{"), jsonText);
if (anyJson.choices[0].finish_reason === "stop") JSON.parse(jsonText);

// Log-probabilities, whole and streamed: the same entries, one per token.
const ask = { model: "default", messages: [{ role: "user", content: "Count" }], max_tokens: 6, temperature: 0,
              logprobs: true, top_logprobs: 2 };
const scored = await client.chat.completions.create(ask);
const entries = scored.choices[0].logprobs.content;
assert.equal(entries.length, scored.usage.completion_tokens);
for (const e of entries) {
  assert.ok(e.logprob <= 0, JSON.stringify(e));
  assert.equal(e.top_logprobs.length, 2);
  assert.equal(e.top_logprobs[0].logprob, e.logprob);  // greedy takes the most likely
  assert.ok(Array.isArray(e.bytes));
}
const streamedEntries = [];
for await (const c of await client.chat.completions.create({ ...ask, stream: true })) {
  for (const choice of c.choices) streamedEntries.push(...(choice.logprobs?.content ?? []));
}
assert.deepEqual(streamedEntries.map((e) => [e.token, e.logprob]), entries.map((e) => [e.token, e.logprob]));
console.log("openai sdk: all checks passed");
