#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into OUT/<target>/.

The seeds are what each parser meets in real use: requests as curl, the
OpenAI SDKs, Triton's client and browsers send them; KServe bodies with
binary tensors and shared-memory parameters; multipart forms with small
audio files; the repository's own TOML configs; worker protocol messages as
wire.cc writes them; plus near misses (truncated, malformed, over a limit).

fuzz/run --merge distils seeds and found inputs into the committed corpora
(fuzz/corpus/<target>/): the seeds themselves are not committed, this script
is how they were made.

    fuzz/make_seeds.py build-fuzz/seeds
"""
import ctypes
import ctypes.util
import json
import math
import os
import struct
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- audio, written with libsndfile (the library that reads it) -------------

SF_WRITE = 0x20
FORMATS = {
    "wav16": (0x010000 | 0x0002, 8000, 1),
    "wav16_stereo": (0x010000 | 0x0002, 16000, 2),
    "wav_float": (0x010000 | 0x0006, 8000, 1),
    "wav_ulaw": (0x010000 | 0x0010, 8000, 1),
    "rf64": (0x220000 | 0x0002, 8000, 1),
    "aiff": (0x020000 | 0x0002, 8000, 1),
    "flac": (0x170000 | 0x0002, 8000, 1),
    "vorbis": (0x200000 | 0x0060, 8000, 1),
    "opus": (0x200000 | 0x0064, 8000, 1),
    "mp3": (0x230000 | 0x0082, 8000, 1),
}


class SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int), ("channels", ctypes.c_int),
                ("format", ctypes.c_int), ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def audio_files(seconds=0.05):
    """Short tones in each container libsndfile writes: name -> bytes."""
    lib = ctypes.CDLL(ctypes.util.find_library("sndfile"))
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SfInfo)]
    lib.sf_writef_short.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_short), ctypes.c_int64]
    lib.sf_close.argtypes = [ctypes.c_void_p]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fmt, rate, channels) in FORMATS.items():
            path = os.path.join(tmp, name).encode()
            info = SfInfo(0, rate, channels, fmt, 0, 0)
            f = lib.sf_open(path, SF_WRITE, ctypes.byref(info))
            if not f:
                print(f"make_seeds: libsndfile cannot write {name}; skipped", file=sys.stderr)
                continue
            frames = int(rate * seconds)
            samples = [int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames) for _ in range(channels)]
            buf = (ctypes.c_short * len(samples))(*samples)
            lib.sf_writef_short(f, buf, frames)
            lib.sf_close(f)
            with open(path, "rb") as fh:
                out[name] = fh.read()
    return out


# ---- HTTP --------------------------------------------------------------------

def request(method, target, headers=(), body=b"", version="1.1", length=True):
    lines = [f"{method} {target} HTTP/{version}", "Host: 127.0.0.1:8080"]
    lines += [f"{k}: {v}" for k, v in headers]
    if length and (body or method in ("POST", "PUT")):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body, size=7):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def multipart(fields, boundary="----formdata-undici-0123456789"):
    out = b""
    for name, value, filename, ctype in fields:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


CHAT = {"model": "default", "messages": [{"role": "system", "content": "You are terse."},
                                         {"role": "user", "content": "Say hello."}],
        "max_tokens": 16, "temperature": 0.7, "stream": False}
CHAT_FULL = {"model": "default",
             "messages": [{"role": "developer", "content": "Answer in JSON."},
                          {"role": "user", "content": [{"type": "text", "text": "List three colours."}]},
                          {"role": "assistant", "content": "{\"colours\": []}"},
                          {"role": "user", "content": "Again."}],
             "max_completion_tokens": 64, "top_p": 0.9, "top_k": 40, "seed": 42, "n": 1,
             "stop": ["\n\n", "END"], "presence_penalty": 0.5, "frequency_penalty": -0.5,
             "logit_bias": {"15": -100, "42": 2.5}, "logprobs": True, "top_logprobs": 5,
             "response_format": {"type": "json_schema", "json_schema": {"name": "colours", "strict": True, "schema": {
                 "type": "object", "properties": {"colours": {"type": "array", "items": {"type": "string"}}},
                 "required": ["colours"]}}},
             "stream": True, "stream_options": {"include_usage": True}, "user": "user-1234",
             "ignore_eos": False, "timeout_ms": 5000, "cache_prompt": True}
COMPLETION = {"model": "default", "prompt": "Once upon a time", "max_tokens": 32, "logprobs": 3,
              "echo": False, "best_of": 1, "stop": "\n", "stream": True, "seed": 7}
SPEECH = {"model": "tts", "input": "The quick brown fox jumped over the lazy dog.", "voice": "slt",
          "response_format": "wav", "speed": 1.25}


def tensor(name, datatype, shape, data=None, parameters=None):
    t = {"name": name, "datatype": datatype, "shape": shape}
    if data is not None:
        t["data"] = data
    if parameters:
        t["parameters"] = parameters
    return t


def binary_infer(inputs, outputs=None, parameters=None):
    """(Inference-Header-Content-Length, body) in Triton's binary format."""
    doc = {"inputs": [], "id": "req-1"}
    blob = b""
    for name, datatype, shape, raw in inputs:
        doc["inputs"].append(tensor(name, datatype, shape, parameters={"binary_data_size": len(raw)}))
        blob += raw
    if outputs is not None:
        doc["outputs"] = outputs
    if parameters:
        doc["parameters"] = parameters
    head = json.dumps(doc).encode()
    return len(head), head + blob


def bytes_elements(*items):
    return b"".join(struct.pack("<I", len(x)) + x for x in items)


def kserve_bodies():
    """(header length or None, body) pairs."""
    j = lambda d: (None, json.dumps(d).encode())
    out = [
        j({"inputs": [tensor("x", "FP32", [2, 2], [1.0, 2.5, -3.25, 1e-7])]}),
        j({"id": "a", "inputs": [tensor("x", "INT64", [3], [-9223372036854775808, 0, 9223372036854775807]),
                                 tensor("y", "UINT64", [1], [18446744073709551615])],
           "outputs": [{"name": "y"}, {"name": "x", "parameters": {"binary_data": True}}]}),
        j({"inputs": [tensor("b", "BOOL", [2, 1], [[True], [False]]), tensor("s", "BYTES", [2], ["hello", "wörld"]),
                      tensor("i8", "INT8", [2], [-128, 127]), tensor("u8", "UINT8", [1], [255]),
                      tensor("i16", "INT16", [1], [1e3]), tensor("u16", "UINT16", [1], [65535]),
                      tensor("i32", "INT32", [1], [-2147483648]), tensor("u32", "UINT32", [1], [4294967295]),
                      tensor("f64", "FP64", [2], [1.7976931348623157e308, 5e-324])],
           "parameters": {"binary_data_output": True, "timeout_ms": 1000, "priority": 1, "tag": "t",
                          "ratio": 0.5}}),
        j({"inputs": [tensor("x", "FP32", [0, 3], [])]}),
        j({"inputs": [tensor("x", "FP16", [1], [1.0])]}),
        j({"inputs": [tensor("x", "INT8", [1], [1000])]}),
        j({"inputs": [tensor("x", "FP32", [9223372036854775807, 2], [1.0])]}),
        j({"inputs": []}),
        j({"inputs": [tensor("x", "INT32", [2], [1, 2])], "outputs": [{"name": "x", "parameters": {"classification": 2}}]}),
        j({"inputs": [tensor("x", "FP32", [4], parameters={"shared_memory_region": "r0", "shared_memory_byte_size": 16})],
           "outputs": [{"name": "x", "parameters": {"shared_memory_region": "r1", "shared_memory_offset": 16,
                                                    "shared_memory_byte_size": 64}}]}),
        j({"inputs": [tensor("x", "UINT8", [8], parameters={"shared_memory_region": "r1", "shared_memory_offset": 1000,
                                                            "shared_memory_byte_size": 8})]}),
        j({"inputs": [tensor("x", "UINT8", [8], parameters={"shared_memory_region": "nope", "shared_memory_byte_size": 8})]}),
        j({"inputs": [tensor("x", "FP32", [1], [1.0])],
           "outputs": [{"name": "x", "parameters": {"shared_memory_region": "r0", "shared_memory_byte_size": 2}}]}),
        (None, b'{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [1e400]}]}'),
        (None, b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [NaN]}]}'),
        (None, b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1'),
    ]
    out.append(binary_infer([("x", "FP32", [2], struct.pack("<2f", 1.5, -2.0)),
                             ("y", "INT16", [3], struct.pack("<3h", 1, -2, 3))]))
    out.append(binary_infer([("s", "BYTES", [2], bytes_elements(b"abc", b"")),
                             ("b", "BOOL", [2], b"\x01\x00")],
                            outputs=[{"name": "s", "parameters": {"binary_data": True}}, {"name": "b"}]))
    out.append(binary_infer([("x", "UINT8", [4], b"\x00\x01\x02\x03")], parameters={"binary_data_output": True}))
    n, body = binary_infer([("x", "FP32", [2], struct.pack("<2f", 1.5, -2.0))])
    out.append((n, body + b"extra"))   # bytes no input takes
    out.append((n, body[:-3]))          # binary data cut short
    out.append((0, body))               # header length 0
    out.append((len(body) + 10, body))  # header length past the body
    return out


def http_requests(wav):
    j = lambda d: json.dumps(d).encode()
    sdk = [("Accept", "application/json"), ("Content-Type", "application/json"), ("User-Agent", "OpenAI/JS 4.77.0"),
           ("X-Stainless-Lang", "js"), ("Authorization", "Bearer sk-local"), ("Connection", "keep-alive")]
    form, form_type = multipart([("file", wav, "speech.wav", "audio/wav"), ("model", b"stt", None, None),
                                 ("response_format", b"verbose_json", None, None),
                                 ("timestamp_granularities[]", b"word", None, None)])
    n, infer_bin = binary_infer([("x", "FP32", [2], struct.pack("<2f", 1.5, -2.0))],
                                parameters={"binary_data_output": True})
    return {
        "get_ready": request("GET", "/v2/health/ready", [("User-Agent", "curl/7.88.1"), ("Accept", "*/*")]),
        "get_live_http10": request("GET", "/v2/health/live", version="1.0"),
        "head_models": request("HEAD", "/v1/models"),
        "get_model": request("GET", "/v1/models/echo?x=1"),
        "get_v2": request("GET", "/v2"),
        "get_metadata": request("GET", "/v2/models/echo/versions/1"),
        "get_model_ready": request("GET", "/v2/models/echo/ready"),
        "get_metrics": request("GET", "/metrics", [("Accept", "text/plain;version=0.0.4")]),
        "get_metrics_json": request("GET", "/metrics.json"),
        "get_dashboard": request("GET", "/dashboard/dashboard.js", [("Accept-Encoding", "gzip, deflate, br")]),
        "get_dashboard_json": request("GET", "/dashboard.json", [("Authorization", "Bearer x")]),
        "get_root": request("GET", "/"),
        "get_health": request("GET", "/health"),
        "repository_index": request("POST", "/v2/repository/index", body=b"{}"),
        "repository_unload": request("POST", "/v2/repository/models/echo/unload", body=b"{}"),
        "repository_load": request("POST", "/v2/repository/models/other/load"),
        "chat": request("POST", "/v1/chat/completions", sdk, j(CHAT)),
        "chat_stream": request("POST", "/v1/chat/completions", sdk, j(CHAT_FULL)),
        "completion": request("POST", "/v1/completions", [("Content-Type", "application/json")], j(COMPLETION)),
        "speech": request("POST", "/v1/audio/speech", [("Content-Type", "application/json")], j(SPEECH)),
        "transcription": request("POST", "/v1/audio/transcriptions", [("Content-Type", form_type)], form),
        "infer_json": request("POST", "/v2/models/echo/infer", [("Content-Type", "application/json")],
                              j({"inputs": [tensor("x", "INT32", [2], [1, 2])]})),
        "infer_binary": request("POST", "/v2/models/echo/versions/1/infer",
                                [("Content-Type", "application/octet-stream"), ("Inference-Header-Content-Length", str(n)),
                                 ("Accept-Encoding", "identity")], infer_bin),
        "infer_chunked": request("POST", "/v2/models/echo/infer", [("Transfer-Encoding", "chunked")],
                                 chunked(j({"inputs": [tensor("x", "BYTES", [1], ["chunked"])]})), length=False),
        "infer_expect": request("POST", "/v2/models/echo/infer", [("Expect", "100-continue")],
                                j({"inputs": [tensor("x", "BOOL", [1], [True])]})),
        "infer_shm": request("POST", "/v2/models/echo/infer", [],
                             j({"inputs": [tensor("x", "UINT8", [4], parameters={"shared_memory_region": "r0",
                                                                                 "shared_memory_byte_size": 4})],
                                "outputs": [{"name": "x", "parameters": {"shared_memory_region": "r1",
                                                                         "shared_memory_byte_size": 8}}]})),
        "shm_status": request("GET", "/v2/systemsharedmemory/status"),
        "shm_region_status": request("GET", "/v2/systemsharedmemory/region/r0/status"),
        "shm_register": request("POST", "/v2/systemsharedmemory/region/r2/register", [],
                                j({"key": "/modelpool_no_such_object", "offset": 0, "byte_size": 64})),
        "shm_unregister": request("POST", "/v2/systemsharedmemory/region/r1/unregister"),
        "pipelined": request("GET", "/v2/health/live") + request("GET", "/v1/models") +
                     request("POST", "/v2/models/echo/infer", [], j({"inputs": [tensor("x", "INT8", [1], [1])]})),
        "keep_alive_http10": request("GET", "/v2", [("Connection", "keep-alive")], version="1.0") +
                            request("GET", "/v2/health/ready", version="1.0"),
        "close": request("GET", "/v2", [("Connection", "close")]) + request("GET", "/v2"),
        "delete": request("DELETE", "/v1/models"),
        "unknown_route": request("GET", "/v3/anything"),
        "too_large": request("POST", "/v2/models/echo/infer", [("Content-Length", "999999999")], length=False),
        "gzip": request("POST", "/v1/completions", [("Transfer-Encoding", "gzip, chunked")], b"0\r\n\r\n", length=False),
        "expect_other": request("POST", "/v1/completions", [("Expect", "200-ok")], b"{}"),
        "bad_request_line": b"GET /\r\n\r\n",
        "bad_header": b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "bad_length": b"POST /v1/completions HTTP/1.1\r\nContent-Length: 1x\r\n\r\n{}",
        "two_lengths": b"POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "bad_chunk": b"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "truncated_body": b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"model\"",
        "huge_header": b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
    }


def config_files():
    out = {}
    with open(os.path.join(ROOT, "examples", "models.toml"), "rb") as f:
        out["examples_models"] = f.read()
    out["readme"] = b"""[server]
drain_timeout_ms = 10000

[[model]]
name = "chat"
backend = "llama"
path = "/models/my-model.gguf"
mode = "batched"
slots = 16
context = 32768
[model.options]
prefill_chunk = 64

[[model]]
name = "echo"
backend = "sim"
instances = [1, 4]
"""
    out["server_all"] = b"""[server]
host = "0.0.0.0"
port = 9000
api_key = "secret"
allow_unready_models = true
access_log = false
log_level = "debug"
max_body_bytes = 268435456
max_audio_upload_mb = 100
read_timeout_ms = 5000
drain_timeout_ms = 0
stall_timeout_ms = 2000
handler_threads = 300
stream_buffer_bytes = 65536
write_timeout_ms = 1000
allow_client_shm = true
"""
    out["process"] = b"""[[model]]
name = "worker"
backend = "sim"
isolation = "process"
instances = 4
max_queue = 0
timeout_ms = 2000
warmup = false
[model.options]
crash_probability = 0.01
crash_seed = 7
crash_signal = "SIGABRT"
service = "cpu"
service_ms = 2.5
[model.process]
heartbeat_ms = 100
hang_grace_ms = 500
crash_loop_limit = 3
restart_backoff_max_ms = 2000
arena_mb = 64
"""
    out["speech"] = b"""[[model]]
name = "stt"
backend = "stt"
instances = [0, 2]
[model.options]
max_seconds = 30
sample_rate = 16000
mmap = false
language = "en"

[[model]]
name = "tts"
backend = "tts"
isolation = "process"
[model.options]
engine = "espeak-ng"
voice = "en-us"
max_characters = 1000
"""
    out["errors"] = b"""[server]
prot = 8080
port = 70000
[[model]]
name = "bad name!"
backend = "nope"
slots = -3
instances = [4, 1]
context = 8
mode = "sideways"
[model.options]
unknown = 1
[[model]]
name = "bad name!"
backend = "sim"
[model.process]
arena_mb = 1
"""
    out["toml_syntax"] = b'[server\nport = = 1\nx = """unterminated\n'
    out["inline"] = b'model = [{name = "a", backend = "sim", options = {service_ms = 1}}]\n[server]\nport = 1.5\n'
    return out


# ---- worker protocol (wire.cc's encoding) -------------------------------------

MAGIC = 0x4D504C31
TYPES = {"hello": 1, "ready": 2, "load_failed": 3, "infer": 4, "generate": 5, "count_tokens": 6, "cancel": 7,
         "release": 8, "ping": 9, "pong": 10, "text": 11, "done": 12, "shutdown": 13}


class W:
    def __init__(self, kind, call=0):
        self.b = struct.pack("<IHHQ", MAGIC, TYPES[kind], 0, call)

    def u8(self, v): self.b += struct.pack("<B", v); return self
    def u32(self, v): self.b += struct.pack("<I", v & 0xFFFFFFFF); return self
    def u64(self, v): self.b += struct.pack("<Q", v); return self
    def i64(self, v): self.b += struct.pack("<q", v); return self
    def f64(self, v): self.b += struct.pack("<d", v); return self
    def str(self, s):
        s = s.encode() if isinstance(s, str) else s
        return self.u64(len(s)).__raw(s)
    def __raw(self, s): self.b += s; return self

    def status(self, code=0, message=""):
        return self.u32(code).str(message)

    def refs(self, refs):
        self.u64(len(refs))
        for name, datatype, shape, offset, size in refs:
            self.str(name).str(datatype).u64(len(shape))
            for d in shape:
                self.i64(d)
            self.u64(offset).u64(size)
        return self

    def params(self, params):
        self.u64(len(params))
        for k, v in params:
            self.str(k)
            if isinstance(v, bool): self.u8(0).u8(int(v))
            elif isinstance(v, int) and v >= 0 and v > 2**63 - 1: self.u8(2).u64(v)
            elif isinstance(v, int): self.u8(1).i64(v)
            elif isinstance(v, float): self.u8(3).f64(v)
            else: self.u8(4).str(v)
        return self

    def logprobs(self, entries):
        self.u64(len(entries))
        for token, text, lp, top in entries:
            self.u32(token).str(text).f64(lp).u64(len(top))
            for t, tt, tl in top:
                self.u32(t).str(tt).f64(tl)
        return self

    def generation_result(self):
        self.str("Hello there").u64(2).u32(15043).u32(727).i64(5).i64(2).u8(1)
        self.f64(0.001).f64(0.02).f64(0.05).u64(2).f64(0.02).f64(0.05)
        return self.logprobs([(15043, "Hello", -0.1, [(15043, "Hello", -0.1), (6324, "Hi", -2.5)])])


def wire_messages():
    half = 128 << 20
    generate = (W("generate", 3).str("Once upon").u64(2).str("system").str("Be brief.").str("user").str("Hi")
                .i64(16).f64(0.7).f64(0.95).i64(40).u8(1).u32(42).u64(1).str("\n\n").u8(0).u64(1).i64(15).f64(-100.0)
                .f64(0.0).f64(0.5).u8(2).str('{"type": "object"}').u8(1).i64(3).u8(1).u8(1).i64(5_000_000_000))
    return {
        "hello": W("hello").str("echo").str("sim").str("").u64(2).str("service_ms").str("0").str("weights_mb").str("1")
                 .u8(0).u64(1).u64(4).u64(8).u64(2048).u64(0).u64(64).u8(1).str("process").b,
        "infer": W("infer", 1).str("req-1").refs([("x", "FP32", [2, 2], 0, 16), ("s", "BYTES", [1], 64, 9)])
                 .params([("binary_data_output", True), ("n", -5), ("big", 2**64 - 1), ("ratio", 0.25), ("tag", "t")])
                 .i64(1_000_000_000).b,
        "infer_no_deadline": W("infer", 2).str("").refs([]).params([]).i64(-1).b,
        "generate": generate.b,
        "count_tokens": W("count_tokens", 4).str("How many tokens is this?").b,
        "cancel": W("cancel", 1).b,
        "release": W("release").u64(half + 64).b,
        "ping": W("ping").b,
        "pong": W("pong").b,
        "shutdown": W("shutdown").b,
        "ready": W("ready").u32(1).u64(1 << 20).u64(4096).u64(2048).str("sim echo").b,
        "load_failed": W("load_failed").status(6, "sim model 'echo': injected load failure").b,
        "text": W("text", 3).u8(0).str("Hello").b,
        "text_logprobs": W("text", 3).u8(1).logprobs([(15043, "Hello", -0.25, [(15043, "Hello", -0.25)])]).b,
        "done_infer": W("done", 1).status().i64(1000).i64(250000).refs([("x", "FP32", [2, 2], half, 16)])
                      .u8(0).b,
        "done_infer_generation": W("done", 1).status().i64(0).i64(1).refs([("text_output", "BYTES", [1], half + 64, 15)])
                                 .u8(1).generation_result().b,
        "done_infer_error": W("done", 1).status(7, "input 'x': bad").b,
        "done_generate": W("done", 3).status().generation_result().b,
        "done_count": W("done", 4).status().u64(7).b,
        "bad_magic": struct.pack("<IHHQ", 0xDEADBEEF, 4, 0, 1),
        "short": struct.pack("<IH", MAGIC, 4),
        "huge_count": W("infer", 1).str("").u64(2**62).b,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    audio = audio_files()
    wav = audio["wav16"]

    def write(target, name, data):
        os.makedirs(os.path.join(out, target), exist_ok=True)
        with open(os.path.join(out, target, name), "wb") as f:
            f.write(data)

    for name, data in http_requests(wav).items():
        write("http", name, data)
    for i, (n, body) in enumerate(kserve_bodies()):
        write("kserve", f"body{i:02d}", ("" if n is None else str(n)).encode() + b"\n" + body)
    for name, doc in {"chat": CHAT, "chat_full": CHAT_FULL, "completion": COMPLETION, "speech": SPEECH}.items():
        write("openai", name, json.dumps(doc).encode())
    write("openai", "speech_min", b'{"model":"tts","input":"Hi"}')
    write("openai", "chat_tools", b'{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}')
    write("openai", "prompt_list", b'{"model":"m","prompt":["a","b"],"max_tokens":null,"logit_bias":{"x":1}}')
    write("openai", "not_object", b'[1, 2, 3]')
    forms = {
        "openai_sdk": multipart([("file", wav, "speech.wav", "audio/wav"), ("model", b"whisper-1", None, None)]),
        "curl": multipart([("model", b"stt", None, None), ("file", audio["flac"], "a.flac", "audio/flac"),
                           ("language", b"en", None, None), ("prompt", b"Earlier words.", None, None),
                           ("response_format", b"srt", None, None), ("temperature", b"0", None, None),
                           ("stream", b"false", None, None)],
                          boundary="------------------------d74496d66958873e"),
        "granularities": multipart([("file", wav, "", None), ("model", b"stt", None, None),
                                    ("response_format", b"verbose_json", None, None),
                                    ("timestamp_granularities[]", b"word", None, None),
                                    ("timestamp_granularities[]", b"segment", None, None)],
                                   boundary="WebKitFormBoundary7MA4YWxkTrZu0gW"),
    }
    for name, (body, ctype) in forms.items():
        write("multipart", name, ctype.encode() + b"\n" + body)
    write("multipart", "quoted", b'multipart/form-data; boundary="a b:c"\n'
          b'preamble\r\n--a b:c  \r\ncontent-disposition: form-data; name=model; filename="x\\"y"\r\n'
          b'Content-Transfer-Encoding: binary\r\n\r\nstt\r\n--a b:c--\r\nepilogue')
    write("multipart", "base64", b'multipart/form-data; boundary=B\n--B\r\nContent-Disposition: form-data; name="file"'
          b'\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--B--')
    write("multipart", "unterminated", b'multipart/form-data; boundary=B\n--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx')
    write("multipart", "not_form", b"application/json\n{}")
    for name, data in audio.items():
        write("audio", name, data)
    write("audio", "wav_truncated", wav[:30])
    write("audio", "riff_only", wav[:6])
    write("audio", "id3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + audio.get("mp3", b"\xff\xfb\x90\x00")[:64])
    write("audio", "html", b"<html><body>not audio</body></html>")
    for name, data in config_files().items():
        write("config", name, data)
    for name, data in wire_messages().items():
        write("wire", name, data)


if __name__ == "__main__":
    main()
