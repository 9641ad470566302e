// Speech with the official OpenAI SDK: modelpool's `tts` model says a
// sentence (MP3, the SDK's default format), its `stt` model transcribes it.
//   npm ci && npm run speech                 (the server at http://127.0.0.1:8080)
//   MODELPOOL_URL=http://host:9000 npm run speech
import OpenAI, { toFile } from "openai";

const baseURL = (process.env.MODELPOOL_URL ?? "http://127.0.0.1:8080") + "/v1";
const client = new OpenAI({ baseURL, apiKey: process.env.MODELPOOL_API_KEY ?? "none" });

const sentence = process.argv[2] ?? "Turn left at the next intersection.";
const speech = await client.audio.speech.create({ model: "tts", voice: "slt", input: sentence });
const mp3 = Buffer.from(await speech.arrayBuffer());
console.log(`said "${sentence}": ${mp3.length} bytes of ${speech.headers.get("content-type")}`);

const text = await client.audio.transcriptions.create({ model: "stt", file: await toFile(mp3, "speech.mp3") });
console.log(`heard "${text.text}"`);
