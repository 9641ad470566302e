// The official OpenAI SDK's audio calls, unchanged, against `modelpool serve`
// with a speech-to-text model "stt" and a text-to-speech model "tts".
//   node audio_test.mjs http://127.0.0.1:PORT API_KEY SPOKEN.wav "WHAT IT SAYS"
import OpenAI, { toFile } from "openai";
import assert from "node:assert/strict";
import fs from "node:fs";

const [baseURL, apiKey, spoken, said] = [process.argv[2] + "/v1", process.argv[3] || "none", process.argv[4], process.argv[5]];
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const norm = (s) => s.toLowerCase().replace(/[^a-z' ]/g, " ").split(/\s+/).filter(Boolean).join(" ");

// A flite-made utterance, transcribed exactly (the SDK sends the file as it is).
const plain = await client.audio.transcriptions.create({ file: fs.createReadStream(spoken), model: "stt" });
assert.equal(norm(plain.text), norm(said), `transcribed: ${plain.text}`);

// verbose_json with word timestamps: segments and words with times, in order.
const verbose = await client.audio.transcriptions.create({
  file: fs.createReadStream(spoken),
  model: "stt",
  response_format: "verbose_json",
  timestamp_granularities: ["word", "segment"],
});
assert.equal(norm(verbose.text), norm(said));
assert.equal(verbose.language, "en");
assert.ok(verbose.duration > 0.5, `duration ${verbose.duration}`);
assert.ok(verbose.segments.length >= 1);
assert.equal(verbose.words.map((w) => w.word).join(" "), norm(said));
for (let i = 1; i < verbose.words.length; i++) assert.ok(verbose.words[i].start >= verbose.words[i - 1].end - 1e-6);
assert.ok(verbose.words.at(-1).end <= verbose.duration + 1e-3);

// Subtitles come back as text.
const srt = await client.audio.transcriptions.create({ file: fs.createReadStream(spoken), model: "stt", response_format: "srt" });
assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\n/);
const vtt = await client.audio.transcriptions.create({ file: fs.createReadStream(spoken), model: "stt", response_format: "vtt" });
assert.match(vtt, /^WEBVTT\n\n/);

// Speech: the SDK's default format is the server's default, mp3; then the
// mp3 goes back through the recogniser (the round trip).
const sentence = "turn left at the next intersection and continue for two miles";
const speech = await client.audio.speech.create({ model: "tts", voice: "slt", input: sentence });
assert.equal(speech.headers.get("content-type"), "audio/mpeg");
const mp3 = Buffer.from(await speech.arrayBuffer());
assert.ok(mp3.subarray(0, 3).toString() === "ID3" || (mp3[0] === 0xff && (mp3[1] & 0xe0) === 0xe0), "not MP3");
const back = await client.audio.transcriptions.create({ file: await toFile(mp3, "speech.mp3"), model: "stt" });
assert.equal(norm(back.text), sentence, `round trip: ${back.text}`);

for (const [format, magic] of [["wav", "RIFF"], ["flac", "fLaC"], ["opus", "OggS"]]) {
  const r = await client.audio.speech.create({ model: "tts", voice: "slt", input: "Hello.", response_format: format });
  const bytes = Buffer.from(await r.arrayBuffer());
  assert.equal(bytes.subarray(0, 4).toString(), magic, format);
}

// Errors come back as the SDK's typed errors, with the server's message.
await assert.rejects(
  client.audio.speech.create({ model: "tts", voice: "nobody", input: "Hello." }),
  (e) => e.status === 400 && /nobody/.test(e.message),
);
await assert.rejects(
  client.audio.transcriptions.create({ file: await toFile(Buffer.from("<html>hello</html>"), "a.wav"), model: "stt" }),
  (e) => e.status === 400 && /not audio/.test(e.message),
);
console.log("openai sdk audio: ok");
