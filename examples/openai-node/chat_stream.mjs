// Streams a chat completion from modelpool with the official OpenAI SDK.
//   npm ci && npm start                      (the server at http://127.0.0.1:8080)
//   MODELPOOL_URL=http://host:9000 npm start
// An ES module (.mjs) for Node 20 or newer; `npm start` runs it with the
// Node 20 that `npm ci` installed next to it.
import OpenAI from "openai";

const baseURL = (process.env.MODELPOOL_URL ?? "http://127.0.0.1:8080") + "/v1";
const client = new OpenAI({ baseURL, apiKey: process.env.MODELPOOL_API_KEY ?? "none" });

const stream = await client.chat.completions.create({
  model: process.env.MODELPOOL_MODEL ?? "default",
  messages: [{ role: "user", content: "Hello" }],
  max_tokens: 16,
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
process.stdout.write("\n");
