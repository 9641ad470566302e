#!/usr/bin/env python3
"""Speech end to end: `modelpool serve` with the speech engines, driven as
clients drive it.

    speech_test.py MODELPOOL

Models: `stt` (pocketsphinx, en-us, 2 instances), `stt-short` (a 5 s audio
limit), `tts` (flite, threads) and `tts-espeak` (espeak-ng, 2 worker
processes). Checks:
  - the official OpenAI SDK's audio calls (tests/openai-sdk/audio_test.mjs):
    a flite-made utterance transcribed exactly, verbose_json with words, srt,
    vtt, speech in every format, the mp3 round trip back through `stt`;
  - KServe v2 infer of the same audio as a BYTES file (binary extension and
    the client's shared memory) and as INT16 samples;
  - Vietnamese from espeak-ng: valid, non-silent audio of plausible length;
  - every bad-audio case answered 400 with a message naming the problem, and
    413 past the upload limit;
  - concurrent requests on every engine, all answered correctly;
  - a SIGKILLed espeak-ng worker: the model keeps answering;
  - start-up shows each instance as it becomes ready (warm-up included).
"""
import concurrent.futures
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from multiprocessing import shared_memory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import serverlib  # noqa: E402
from e2e import check, failures  # noqa: E402
from speechlib import speak, synthesize, transcribe, wav_seconds, words  # noqa: E402

serverlib.MP = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="mp-speech-test-")
SAID = "can you tell me how to get to the train station"


def wav_bytes(rate, channels, frames, value=1000):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<h", value) * frames * channels)
    return out.getvalue()


def rms_of_wav(data):
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
    samples = struct.unpack("<%dh" % (len(frames) // 2), frames)
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def expect_400(status, body, pattern, what):
    text = json.dumps(body) if not isinstance(body, (str, bytes)) else str(body)
    check(status == 400 and pattern in text, "%s: expected 400 naming '%s', got %s %s" % (what, pattern, status, text[:300]))


def post_raw(url, path, data, ctype):
    req = urllib.request.Request(url + path, data=data, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    spoken = speak(SAID, os.path.join(WORK, "said.wav"))
    long_audio = speak(" ".join(["the quick brown fox jumps over the lazy dog"] * 3), os.path.join(WORK, "long.wav"))
    with open(spoken, "rb") as f:
        audio = f.read()
    toml = """
[server]
max_audio_upload_mb = 1

[[model]]
name = "stt"
backend = "stt"
instances = 2

[[model]]
name = "stt-short"
backend = "stt"
options = { max_seconds = 5 }

[[model]]
name = "tts"
backend = "tts"
instances = 2

[[model]]
name = "tts-espeak"
backend = "tts"
isolation = "process"
instances = 2
options = { engine = "espeak-ng" }
"""
    with serverlib.Server(toml, extra_args=("--allow-client-shm",), ready_timeout=300) as srv:
        url = srv.url
        log = srv.log()
        check("model 'stt': instance 2/2 ready" in log or "model 'stt': instance 1/2 ready" in log,
              "start-up shows instances as they become ready:\n" + log[-2000:])

        # ---- the OpenAI SDK
        node = os.path.join(ROOT, "tests", "openai-sdk", "node20")
        r = subprocess.run([node, os.path.join(ROOT, "tests", "openai-sdk", "audio_test.mjs"), url, "none", spoken, SAID],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "openai sdk audio test:\n" + r.stdout[-2000:] + r.stderr[-3000:])

        # ---- the README's SDK example, run as the README says
        r = subprocess.run(["npm", "run", "speech", "--silent"], cwd=os.path.join(ROOT, "examples", "openai-node"),
                           env=dict(os.environ, MODELPOOL_URL=url), capture_output=True, text=True, timeout=300)
        check(r.returncode == 0 and 'heard "turn left at the next intersection"' in r.stdout.lower(),
              "README speech example (examples/openai-node):\n" + r.stdout[-1000:] + r.stderr[-2000:])

        # ---- KServe v2: the file as BYTES (binary extension), samples as INT16
        header = json.dumps({"inputs": [{"name": "audio", "datatype": "BYTES", "shape": [1],
                                         "parameters": {"binary_data_size": len(audio) + 4}}]}).encode()
        req = urllib.request.Request(url + "/v2/models/stt/infer", method="POST",
                                     data=header + struct.pack("<I", len(audio)) + audio,
                                     headers={"Inference-Header-Content-Length": str(len(header)),
                                              "Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            out = json.loads(resp.read())
        text = [o for o in out["outputs"] if o["name"] == "text"][0]["data"][0]
        check(words(text) == words(SAID), "kserve BYTES transcription: %s" % text)
        with wave.open(io.BytesIO(audio)) as w:
            rate, frames = w.getframerate(), w.readframes(w.getnframes())
        samples = list(struct.unpack("<%dh" % (len(frames) // 2), frames))
        status, body = srv.call("POST", "/v2/models/stt/infer", {
            "inputs": [{"name": "audio", "datatype": "INT16", "shape": [len(samples)], "data": samples}],
            "parameters": {"sample_rate": rate}}, timeout=120)
        check(status == 200, "kserve INT16: %s %s" % (status, body[:300]))
        if status == 200:
            text = [o for o in json.loads(body)["outputs"] if o["name"] == "text"][0]["data"][0]
            check(words(text) == words(SAID), "kserve INT16 transcription: %s" % text)

        # ... and the file in the client's shared memory (Triton's system shared memory)
        shm = shared_memory.SharedMemory(create=True, size=len(audio) + 4)
        try:
            shm.buf[:len(audio) + 4] = struct.pack("<I", len(audio)) + audio
            status, body = srv.call("POST", "/v2/systemsharedmemory/region/call/register",
                                    {"key": "/" + shm.name, "byte_size": len(audio) + 4})
            check(status == 200, "register shm: %s %s" % (status, body[:200]))
            status, body = srv.call("POST", "/v2/models/stt/infer", {"inputs": [{
                "name": "audio", "datatype": "BYTES", "shape": [1],
                "parameters": {"shared_memory_region": "call", "shared_memory_byte_size": len(audio) + 4}}]},
                timeout=120)
            check(status == 200, "kserve shm transcription: %s %s" % (status, body[:300]))
            if status == 200:
                text = [o for o in json.loads(body)["outputs"] if o["name"] == "text"][0]["data"][0]
                check(words(text) == words(SAID), "kserve shm transcription: %s" % text)
            srv.call("POST", "/v2/systemsharedmemory/region/call/unregister")
        finally:
            shm.close()
            shm.unlink()

        # ---- Vietnamese from espeak-ng
        status, vi = synthesize(url, "tts-espeak", "Xin chào, hôm nay trời đẹp quá.", voice="vi")
        check(status == 200 and vi[:4] == b"RIFF", "vietnamese synthesis: %s %s" % (status, vi[:200]))
        if status == 200:
            check(1.0 < wav_seconds(vi) < 10.0, "vietnamese length %.2f s" % wav_seconds(vi))
            check(rms_of_wav(vi) > 300, "vietnamese audio is silent")

        # ---- bad audio: a 400 naming the problem
        for data, pattern, what in [
            (b"<html><body>hello</body></html>", "not audio", "not audio"),
            (audio[:30], "WAV", "truncated header"),
            (b"", "empty", "zero length"),
            (wav_bytes(2000, 1, 2000), "sample rate 2000 Hz", "unusable sample rate"),
            (wav_bytes(16000, 12, 1600), "12 channels", "unusable channel count"),
        ]:
            status, body = transcribe(url, "stt", data)
            expect_400(status, body, pattern, what)
        with open(long_audio, "rb") as f:
            status, body = transcribe(url, "stt-short", f.read())
        expect_400(status, body, "limit is 5 s", "longer than the model's limit")
        body_no_file = ("--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nstt\r\n--B--\r\n").encode()
        status, body = post_raw(url, "/v1/audio/transcriptions", body_no_file, "multipart/form-data; boundary=B")
        expect_400(status, body, "file", "multipart without file")
        status, body = transcribe(url, "stt", audio, fields=[("response_format", "docx")])
        expect_400(status, body, "docx", "unknown transcription response_format")
        status, body = synthesize(url, "tts", "Hello.", response_format="aac")
        expect_400(status, body, "aac", "unknown speech response_format")
        status, body = synthesize(url, "tts", "Hello.", voice="nobody")
        expect_400(status, body, "nobody", "unknown voice")
        status, body = transcribe(url, "stt", b"RIFF" + os.urandom(2 * 1024 * 1024))
        check(status == 413, "upload over max_audio_upload_mb: %s %s" % (status, str(body)[:200]))

        # ---- concurrency on every engine
        def stt_once(_):
            return transcribe(url, "stt", audio)

        def tts_once(i):
            return synthesize(url, "tts", "Request number %d is being spoken now." % i)

        def espeak_once(i):
            return synthesize(url, "tts-espeak", "Xin chào số %d." % i if i % 2 else "Hello number %d." % i,
                              voice="vi" if i % 2 else None)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            got = list(pool.map(stt_once, range(8)))
            check(all(s == 200 and words(b["text"]) == words(SAID) for s, b in got),
                  "concurrent transcriptions: %s" % [(s, b if s != 200 else b["text"]) for s, b in got])
            for name, fn in (("flite", tts_once), ("espeak-ng", espeak_once)):
                got = list(pool.map(fn, range(8)))
                check(all(s == 200 and b[:4] == b"RIFF" and wav_seconds(b) > 0.5 for s, b in got),
                      "concurrent %s syntheses: %s" % (name, [(s, b[:100]) for s, b in got if s != 200]))

        # ---- espeak-ng in worker processes survives a killed worker
        pids = srv.metrics()["models"]["tts-espeak"]["workers"]["pids"]
        check(len(pids) == 2, "espeak-ng workers: %s" % pids)
        os.kill(pids[0], signal.SIGKILL)
        results = [synthesize(url, "tts-espeak", "Still speaking after a crash.") for _ in range(4)]
        check(all(s == 200 and b[:4] == b"RIFF" for s, b in results),
              "espeak-ng after a killed worker: %s" % [(s, b[:200]) for s, b in results])
        deadline = time.time() + 30
        while time.time() < deadline:
            w = srv.metrics()["models"]["tts-espeak"]["workers"]
            if len(w["pids"]) == 2 and pids[0] not in w["pids"]:
                break
            time.sleep(0.1)
        w = srv.metrics()["models"]["tts-espeak"]["workers"]
        check(len(w["pids"]) == 2 and pids[0] not in w["pids"], "killed espeak-ng worker replaced: %s" % w)
    check(srv.exit_code == 0, "server exit code %s" % srv.exit_code)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("speech end to end: ok")


if __name__ == "__main__":
    main()
