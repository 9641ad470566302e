#!/usr/bin/env python3
"""The HTTP edges and the server's life cycle, end to end, with raw sockets.

    protocol_test.py MODELPOOL TINY_MODEL

Starts the real `modelpool serve` several times and checks what a client
sees: malformed requests get a 400 with a JSON body, unsupported transfer
codings 501, `Expect: 100-continue` is answered, HTTP/1.0 streams are not
chunked, HEAD works where GET does, pipelined requests are answered in order,
a client that leaves after sending more bytes (pipelined, stray, half-close)
frees its slot, a client that stops reading a stream has it cancelled at the
stream buffer's bound (counted, slot freed, memory bounded) and /metrics.json
agrees with /metrics; SIGTERM drains, cuts off what is left cleanly and exits in
time, a second SIGTERM exits at once; a model that fails to load stops the
server; --host takes names; the API key comes from a file or the
environment; the access log has a line per request; binary tensor data
(Inference-Header-Content-Length) comes back from the sim echo byte for
byte, as binary or JSON, and sizes that do not add up are 400s naming why;
client shared memory (Triton's system_shared_memory, --allow-client-shm):
regions register, list and unregister, an input read from one region comes
back from the echo in another, bad ranges are refused, the server keeps no
mapping after unregister and never removes the client's objects, and without
the flag register answers 501.
"""
import json
from multiprocessing import shared_memory
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from e2e import check, failures, wait_until  # noqa: E402

MP, MODEL = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp()


class Server:
    def __init__(self, toml, *args, env=None):
        self.config = os.path.join(WORK, "models.toml")
        with open(self.config, "w") as f:
            f.write(toml)
        self.log_path = os.path.join(WORK, "log-%d" % time.monotonic_ns())
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([MP, "serve", "--config", self.config, "--port", "0", *args],
                                     stderr=self.log, stdout=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        self.port = None
        for _ in range(400):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_ready(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end and self.proc.poll() is None:
            if request(self.port, "GET", "/v2/health/ready")[0] == 200:
                return True
            time.sleep(0.1)
        return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s, timeout=10):
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def read_response(s, timeout=10, data=b"", head=False):
    """One HTTP/1.1 response with a Content-Length body, after `data` already
    read: (status, headers, body, bytes read past it)."""
    s.settimeout(timeout)
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, b"", data
        data += chunk
    header_block, rest = data.split(b"\r\n\r\n", 1)
    lines = header_block.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = 0 if head else int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def raw(port, data, timeout=10):
    s = connect(port)
    s.sendall(data)
    out = read_all(s, timeout)
    s.close()
    return out


def request(port, method, path, body=None, headers=None, timeout=30):
    """A whole request on its own connection: (status, body bytes)."""
    try:
        s = connect(port)
    except OSError:
        return None, b""
    payload = json.dumps(body).encode() if body is not None else b""
    h = {"Host": "x", "Content-Length": str(len(payload)), "Content-Type": "application/json", **(headers or {})}
    s.sendall(("%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) +
               "\r\n").encode() + payload)
    try:
        status, _, resp, _ = read_response(s, timeout)
    except (socket.timeout, ConnectionResetError):
        status, resp = None, b""
    s.close()
    return status, resp


def post(path, body):
    data = json.dumps(body).encode()
    return ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (path, len(data))).encode() + data


def metric(port, name, labels):
    _, text = request(port, "GET", "/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def busy_slots(port, model="default"):
    return metric(port, "modelpool_instances", {"model": model, "state": "busy"})


# Every decoding step of "default" takes >= 40 ms, so a generation of
# 100000 tokens (capped by the context at 256) outlasts every test.
CONFIG = """
[server]
drain_timeout_ms = %(drain)d
max_body_bytes = 65536

[[model]]
name = "default"
backend = "llama"
path = "%(model)s"
slots = 4
context = 1024
threads = 1
[model.options]
fault_step_delay_ms = 40

[[model]]
name = "slow"
backend = "sim"
instances = 1
[model.options]
service_ms = 30000
"""
LONG = {"model": "default", "prompt": "Go on", "max_tokens": 100000, "ignore_eos": True}

# ---------------------------------------------------------------- protocol edges
srv = Server(CONFIG % {"drain": 5000, "model": MODEL})
check(srv.port is not None and srv.wait_ready(), "server did not start: " + srv.text()[-2000:])
port = srv.port

out = raw(port, b"GARBAGE\r\n\r\n")
check(out.startswith(b"HTTP/1.1 400") and b'"error"' in out, "malformed request line: %r" % out[:200])
out = raw(port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
check(out.startswith(b"HTTP/1.1 400") and b"application/json" in out, "malformed header: %r" % out[:200])
out = raw(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
check(out.startswith(b"HTTP/1.1 400"), "bad Content-Length: %r" % out[:200])
out = raw(port, b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx")
check(out.startswith(b"HTTP/1.1 400"), "two Content-Lengths: %r" % out[:200])
body = out.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in out else b""
check(b'"error":"' in body, "a /v2 error from the HTTP layer is KServe-shaped: %r" % body)
for te in (b"gzip", b"gzip, chunked", b"identity"):
    out = raw(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + b"\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 501") and te.split(b",")[0] in out, "Transfer-Encoding %r: %r" % (te, out[:300]))
out = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
check(out.startswith(b"HTTP/1.1 431"), "header over the limit: %r" % out[:100])
out = raw(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
check(out.startswith(b"HTTP/1.1 413") and b"100 Continue" not in out, "Expect with a body over the limit: %r" % out[:100])

# Expect: 100-continue is answered before the body is sent.
s = connect(port)
payload = json.dumps({"model": "default", "prompt": "Hi", "max_tokens": 1}).encode()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
          b"Content-Length: %d\r\n\r\n" % len(payload))
s.settimeout(5)
try:
    interim = s.recv(100)
except socket.timeout:
    interim = b""
check(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "no 100 Continue: %r" % interim)
s.sendall(payload)
status, _, resp, _ = read_response(s)
check(status == 200 and b"text_completion" in resp, "after 100 Continue: %s %r" % (status, resp[:200]))
s.close()

# HTTP/1.0: a stream without chunked coding, ended by the close.
data = json.dumps({"model": "default", "prompt": "Hi", "max_tokens": 3, "stream": True}).encode()
out = raw(port, b"POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
          % len(data) + data)
head, _, sse = out.partition(b"\r\n\r\n")
check(out.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower(), "HTTP/1.0 stream head: %r" % head)
check(sse.startswith(b"data: {") and sse.rstrip().endswith(b"data: [DONE]"), "HTTP/1.0 stream body: %r" % sse[:300])
out = raw(port, b"GET /v2/health/live HTTP/1.0\r\n\r\n")
check(out.startswith(b"HTTP/1.0 200") and b'"live":true' in out, "HTTP/1.0 plain answer: %r" % out)

# HEAD where GET exists: the headers, Content-Length included, no body.
s = connect(port)
s.sendall(b"HEAD /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
status, headers, _, rest = read_response(s, head=True)
check(status == 200 and int(headers.get("content-length", "0")) > 0, "HEAD: %s %s" % (status, headers))
status, _, resp, _ = read_response(s, data=rest)
check(status == 200 and b'"live":true' in resp, "HEAD answer carried a body: %s %r" % (status, resp[:80]))
s.close()
out = raw(port, b"HEAD /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
check(out.startswith(b"HTTP/1.1 405") and b"Allow: POST" in out, "HEAD on a POST route: %r" % out[:200])

# Pipelining: three requests in one write are answered in order.
s = connect(port)
s.sendall(post("/v1/completions", {"model": "default", "prompt": "Hi", "max_tokens": 2}) +
          b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n" +
          post("/v2/models/nope/infer", {"inputs": []}))
answers = []
rest = b""
for _ in range(3):
    status, _, resp, rest = read_response(s, data=rest)
    answers.append((status, resp))
s.close()
check([a[0] for a in answers] == [200, 200, 404] and b"text_completion" in answers[0][1] and b"live" in answers[1][1],
      "pipelined answers out of order: %r" % answers)

# An error the HTTP layer answers itself, after a first request on the same
# keep-alive connection (an SDK's pooled connection): answered, then closed.
s = connect(port)
s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
status, _, _, rest = read_response(s)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
try:
    second = rest + read_all(s, 5)
except OSError:
    second = rest
s.close()
check(status == 200 and second.startswith(b"HTTP/1.1 413"), "413 after a first request on the connection: %r" % second[:200])

# A client that leaves frees its slot, whatever it sent after its request.
def leave(extra, half_close=False):
    s = connect(port)
    s.sendall(post("/v1/completions", dict(LONG, stream=True)))
    time.sleep(0.4)
    if extra:
        s.sendall(extra)
        time.sleep(0.2)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    else:
        s.close()
    return s

for name, extra, half in (("stray bytes", b"\r\nxyz", False),
                          ("a pipelined request", b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", False),
                          ("a half-close", b"", True)):
    check(wait_until(lambda: busy_slots(port) == 0, 5), "slots busy before '%s'" % name)
    cancelled = metric(port, "modelpool_requests_total", {"model": "default", "outcome": "cancelled"}) or 0
    s = leave(extra, half)
    check(wait_until(lambda: busy_slots(port) == 0, 1.0), "slot still busy 1 s after a client left after %s" % name)
    check(wait_until(lambda: (metric(port, "modelpool_requests_total",
                                      {"model": "default", "outcome": "cancelled"}) or 0) == cancelled + 1, 2),
          "a client that left after %s is not counted cancelled" % name)
    s.close()
srv.kill()

# ---------------------------------------------------------------- a client that stops reading
# One slot, a context long enough that an unbounded queue would hold
# megabytes, a small stream buffer. The client advertises a small window and
# a small segment size, so the kernels on both sides buffer little of it.
SLOW_READER = """
[server]
stream_buffer_bytes = 32768

[[model]]
name = "default"
backend = "llama"
path = "%(model)s"
slots = 1
context = 8192
threads = 1
"""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def metrics_json(port):
    status, body = request(port, "GET", "/metrics.json")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


srv = Server(SLOW_READER % {"model": MODEL})
check(srv.port is not None and srv.wait_ready(), "slow-reader server did not start: " + srv.text()[-2000:])
port = srv.port
status, _ = request(port, "POST", "/v1/completions", {"model": "default", "prompt": "Hi", "max_tokens": 8})
check(status == 200, "slow reader: warm-up request: %s" % status)
rss_before = rss_kib(srv.proc.pid)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
s.connect(("127.0.0.1", port))
s.sendall(post("/v1/chat/completions", {"model": "default", "messages": [{"role": "user", "content": "Go"}],
                                        "max_tokens": 100000, "ignore_eos": True, "stream": True,
                                        "logprobs": True, "top_logprobs": 20}))
overflows = lambda: metric(port, "modelpool_stream_overflows_total", {"model": "default"})
check(wait_until(lambda: overflows() == 1, 60), "slow reader: no overflow counted (%s)" % overflows())
check(wait_until(lambda: busy_slots(port) == 0, 1.0), "slow reader: the slot is still busy after the overflow")
check(metric(port, "modelpool_requests_total", {"model": "default", "outcome": "cancelled", "code": "499"}) == 1,
      "slow reader: the overflowed stream is not counted cancelled/499")
grown = rss_kib(srv.proc.pid) - rss_before
# An unbounded queue would hold the whole generation (100000 tokens with 20
# logprobs each: hundreds of MiB). A sanitizer's allocator keeps freed memory
# in quarantine (ASan: up to 256 MiB), so RSS there says little below that.
sanitized = subprocess.run(["ldd", MP], capture_output=True, text=True).stdout
limit_kib = 8192 if not re.search(r"lib[at]san", sanitized) else 65536
check(grown < limit_kib, "slow reader: the server's RSS grew by %d KiB (limit %d)" % (grown, limit_kib))
status, resp = request(port, "POST", "/v1/completions", {"model": "default", "prompt": "Hi", "max_tokens": 4})
check(status == 200 and b"text_completion" in resp, "slow reader: the next request: %s %r" % (status, resp[:200]))
# The server closed the connection: what it had sent, then the end, no last chunk.
s.settimeout(10)
got, closed = b"", False
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        got += chunk
except ConnectionResetError:
    closed = True
except socket.timeout:
    pass
s.close()
check(closed and got.startswith(b"HTTP/1.1 200") and not got.endswith(b"\r\n0\r\n\r\n"),
      "slow reader: the connection was not cut (closed %s, %d bytes, ends %r)" % (closed, len(got), got[-40:]))

# /metrics.json is the same snapshot as /metrics.
status, doc = metrics_json(port)
check(status == 200 and doc is not None, "/metrics.json: %s" % status)
if doc:
    model = doc["models"].get("default", {})
    ok = [r["count"] for r in model.get("requests", []) if r["outcome"] == "ok" and r["code"] == 200]
    check(ok == [metric(port, "modelpool_requests_total", {"model": "default", "outcome": "ok", "code": "200"})],
          "/metrics.json requests disagree with /metrics: %r" % model.get("requests"))
    check(model.get("stream_overflows") == 1, "/metrics.json stream_overflows: %r" % model.get("stream_overflows"))
    check(model.get("kv_cache", {}).get("cells") == metric(port, "modelpool_kv_cache_cells", {"model": "default"}),
          "/metrics.json kv_cache: %r" % model.get("kv_cache"))
    check(isinstance(doc["process"]["pss_bytes"], int) and doc["process"]["pss_bytes"] > 0,
          "/metrics.json pss: %r" % doc["process"])
    q = model.get("histograms", {}).get("request_duration_seconds", {})  # 3 generations, the cut one too
    check(q.get("count") == 3 and len(q.get("le", [])) == len(q.get("counts", [])) == 15,
          "/metrics.json request_duration_seconds: %r" % q)

# ---------------------------------------------------------------- the prefix cache
SYSTEM = ("You answer questions about the harbour, its boats, the tides and the weather. "
          "Keep every answer short and say so when you do not know. ") * 2


def cached_tokens(path, body):
    status, resp = request(port, "POST", path, body)
    check(status == 200, "prefix cache: %s %s %r" % (path, status, resp[:300]))
    usage = json.loads(resp).get("usage", {}) if status == 200 else {}
    details = usage.get("prompt_tokens_details") or {}
    return usage.get("prompt_tokens", 0), details.get("cached_tokens")


hits_before = metric(port, "modelpool_prefix_cache_hit_tokens_total", {"model": "default"}) or 0
_, first = cached_tokens("/v1/completions", {"model": "default", "prompt": SYSTEM + "Q: one?", "max_tokens": 2})
prompt_tokens, second = cached_tokens("/v1/completions",
                                      {"model": "default", "prompt": SYSTEM + "Q: two?", "max_tokens": 2})
check(first == 0 and second is not None and second >= 32 and second < prompt_tokens,
      "prefix cache: cached_tokens %r then %r (of %d)" % (first, second, prompt_tokens))
_, opted_out = cached_tokens("/v1/completions", {"model": "default", "prompt": SYSTEM + "Q: two?", "max_tokens": 2,
                                                 "cache_prompt": False})
check(opted_out == 0, "prefix cache: cache_prompt false still reported %r cached tokens" % opted_out)
chat = {"model": "default", "max_tokens": 2, "messages": [{"role": "system", "content": SYSTEM},
                                                          {"role": "user", "content": "three?"}]}
cached_tokens("/v1/chat/completions", chat)
_, chat_second = cached_tokens("/v1/chat/completions", chat)
check((chat_second or 0) >= 32, "prefix cache: a chat's second ask reported %r cached tokens" % chat_second)
status, resp = request(port, "POST", "/v1/completions", {"model": "default", "prompt": "Hi", "cache_prompt": "yes"})
check(status == 400 and b"cache_prompt" in resp, "prefix cache: cache_prompt \"yes\": %s %r" % (status, resp[:200]))
hits = metric(port, "modelpool_prefix_cache_hit_tokens_total", {"model": "default"})
check(hits is not None and hits - hits_before >= second + chat_second,
      "prefix cache: hit tokens in /metrics went from %r to %r" % (hits_before, hits))
_, doc = metrics_json(port)
pc = (doc or {}).get("models", {}).get("default", {}).get("prefix_cache") or {}
check(pc.get("hit_tokens") == hits and pc.get("tokens", 0) > 0 and pc.get("max_tokens") == 8192,
      "/metrics.json prefix_cache: %r" % pc)
srv.kill()

# ---------------------------------------------------------------- binary tensor data
# Triton's binary_tensor_data extension against the sim echo: the bytes sent
# come back exactly, as binary or as JSON, and sizes that do not add up are
# 400s naming the problem.
ECHO = """
[server]
max_body_bytes = 4194304

[[model]]
name = "echo"
backend = "sim"
instances = 1
"""
srv = Server(ECHO)
check(srv.port is not None and srv.wait_ready(), "echo server did not start: " + srv.text()[-2000:])
port = srv.port


def binary_infer(header, binary, length=None):
    """POST a JSON header and binary data: (status, headers, body)."""
    head = json.dumps(header).encode()
    body = head + binary
    s = connect(port)
    s.sendall(("POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
               "Content-Length: %d\r\nInference-Header-Content-Length: %s\r\n\r\n"
               % (len(body), len(head) if length is None else length)).encode() + body)
    status, headers, resp, _ = read_response(s, 30)
    s.close()
    return status, headers, resp


def split_binary(headers, resp):
    """A binary response: its JSON header and {output name: bytes}."""
    n = int(headers.get("inference-header-content-length", "-1"))
    head = json.loads(resp[:n])
    out, at = {}, n
    for o in head["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is not None:
            out[o["name"]] = resp[at:at + size]
            at += size
    check(at == len(resp), "binary response: %d bytes after the outputs" % (len(resp) - at))
    return head, out


def bytes_elements(strings):
    return b"".join(struct.pack("<I", len(x)) + x for x in strings)


status, resp = request(port, "GET", "/v2")
check(status == 200 and "binary_tensor_data" in json.loads(resp).get("extensions", []), "GET /v2: %r" % resp)

big = os.urandom(1 << 20)  # 1 MiB: read by a worker, not inline
strings = [b"h\xc3\xa9llo", b"", b"a\x00b"]
packed = bytes_elements(strings)
inputs = [{"name": "big", "datatype": "UINT8", "shape": [len(big)], "parameters": {"binary_data_size": len(big)}},
          {"name": "j", "datatype": "INT32", "shape": [2], "data": [7, -8]},
          {"name": "s", "datatype": "BYTES", "shape": [3], "parameters": {"binary_data_size": len(packed)}}]
status, headers, resp = binary_infer({"id": "b1", "inputs": inputs, "parameters": {"binary_data_output": True}},
                                     big + packed)
check(status == 200 and headers.get("content-type") == "application/octet-stream",
      "binary echo: %s %s %r" % (status, headers, resp[:200]))
if status == 200:
    head, out = split_binary(headers, resp)
    check(head.get("id") == "b1" and [o["name"] for o in head["outputs"]] == ["big", "j", "s"] and
          all("data" not in o for o in head["outputs"]), "binary echo header: %r" % head)
    check(out.get("big") == big, "binary echo: the 1 MiB input did not come back exactly")
    check(out.get("s") == packed and out.get("j") == struct.pack("<2i", 7, -8), "binary echo: %r" % out.get("s"))

# The same inputs answered as JSON, then one output chosen as binary.
ints = [random.randint(-2**31, 2**31 - 1) for _ in range(1000)]
small = [{"name": "i", "datatype": "INT32", "shape": [10, 100], "parameters": {"binary_data_size": 4000}},
         {"name": "s", "datatype": "BYTES", "shape": [3], "parameters": {"binary_data_size": len(packed)}}]
status, headers, resp = binary_infer({"inputs": small}, struct.pack("<1000i", *ints) + packed)
check(status == 200 and headers.get("content-type") == "application/json" and
      "inference-header-content-length" not in headers, "JSON answer to a binary request: %s %s" % (status, headers))
if status == 200:
    outs = {o["name"]: o for o in json.loads(resp)["outputs"]}
    check(outs["i"]["data"] == ints and outs["i"]["shape"] == [10, 100], "JSON echo of binary INT32")
    check(outs["s"]["data"] == [x.decode() for x in strings], "JSON echo of binary BYTES: %r" % outs["s"]["data"])
status, headers, resp = binary_infer({"inputs": small, "outputs": [{"name": "i", "parameters": {"binary_data": True}}]},
                                     struct.pack("<1000i", *ints) + packed)
if status == 200:
    head, out = split_binary(headers, resp)
    check([o["name"] for o in head["outputs"]] == ["i"] and out.get("i") == struct.pack("<1000i", *ints),
          "one binary output chosen: %r" % head)
else:
    check(False, "one binary output chosen: %s %r" % (status, resp[:300]))

# Sizes that do not add up, and what the server does not implement.
one = lambda size, shape=[4], params=None: {"inputs": [
    {"name": "x", "datatype": "FP32", "shape": shape, "parameters": params or {"binary_data_size": size}}]}
for name, header, binary, length, needle in (
        ("size against shape", one(12), b"\0" * 12, None, "binary_data_size 12 does not match shape [4] of FP32"),
        ("past the end", one(16), b"\0" * 12, None, "binary_data_size 16 runs past the end of the binary data"),
        ("left over", one(16), b"\0" * 20, None, "the binary data has 4 bytes that no input takes"),
        ("header past the body", one(16), b"\0" * 16, "100000", "Inference-Header-Content-Length: 100000 is larger"),
        ("non-integer header", one(16), b"\0" * 16, "12abc", "Inference-Header-Content-Length: '12abc' is not"),
        ("raw body", one(16), b"\0" * 16, "0", "Inference-Header-Content-Length: 0"),
        ("shared memory off", one(0, params={"shared_memory_region": "r", "shared_memory_byte_size": 16}), b"",
         None, "client shared memory is disabled: start the server with --allow-client-shm")):
    status, _, resp = binary_infer(header, binary, length)
    try:
        message = json.loads(resp).get("error", "")
    except ValueError:
        message = ""
    check(status == 400 and needle in message, "%s: %s %r" % (name, status, resp[:300]))
status, resp = request(port, "POST", "/v2/models/echo/infer",
                       {"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], "data": [1]}],
                        "outputs": [{"name": "x", "parameters": {"classification": 2}}]})
check(status == 400 and b"classification: not supported" in resp, "output classification: %s %r" % (status, resp))

# Client shared memory is off without --allow-client-shm: register and
# unregister say how to turn it on, status lists nothing, /v2 does not offer it.
for path, body in (("/v2/systemsharedmemory/region/r/register", {"key": "/x", "byte_size": 8}),
                   ("/v2/systemsharedmemory/region/r/unregister", None),
                   ("/v2/systemsharedmemory/unregister", None)):
    status, resp = request(port, "POST", path, body)
    check(status == 501 and b"start the server with --allow-client-shm" in resp, "%s when off: %s %r" % (path, status, resp))
status, resp = request(port, "GET", "/v2/systemsharedmemory/status")
check(status == 200 and json.loads(resp) == [], "shm status when off: %s %r" % (status, resp))
status, resp = request(port, "GET", "/v2")
check("system_shared_memory" not in json.loads(resp).get("extensions", []), "GET /v2 offers shm when off: %r" % resp)
srv.kill()

# ---------------------------------------------------------------- client shared memory
# The client makes its POSIX shm objects (/dev/shm/NAME, key "/NAME") and
# registers ranges of them; the echo reads its input from one region and the
# server writes the output into another.


def server_shm_paths(pid):
    """The /dev/shm objects the server has mapped or open."""
    found = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if "/dev/shm/" in line:
                found.add(line.split("/dev/shm/", 1)[1].split()[0])
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("/dev/shm/"):
            found.add(target[len("/dev/shm/"):].split()[0])
    return found


def error_of(resp):
    try:
        return json.loads(resp).get("error", "")
    except ValueError:
        return ""


N = 1 << 20
shm_in = shared_memory.SharedMemory(create=True, size=N + 64)
shm_out = shared_memory.SharedMemory(create=True, size=N + 16)
ours = {shm_in.name, shm_out.name}
srv = Server(ECHO, "--allow-client-shm")
check(srv.port is not None and srv.wait_ready(), "shm server did not start: " + srv.text()[-2000:])
port = srv.port
status, resp = request(port, "GET", "/v2")
check("system_shared_memory" in json.loads(resp).get("extensions", []), "GET /v2 with shm: %r" % resp)
register = lambda name, body: request(port, "POST", "/v2/systemsharedmemory/region/%s/register" % name, body)
status, resp = register("in", {"key": "/" + shm_in.name, "offset": 64, "byte_size": N})
check(status == 200 and resp == b"", "register in: %s %r" % (status, resp))
status, resp = register("out", {"key": "/" + shm_out.name, "byte_size": N + 16})  # offset defaults to 0
check(status == 200, "register out: %s %r" % (status, resp))
check(server_shm_paths(srv.proc.pid) == ours, "the server maps: %r" % server_shm_paths(srv.proc.pid))
for name, body, want, needle in (
        ("in", {"key": "/" + shm_out.name, "byte_size": 8}, 400, "shared memory region 'in' already in manager"),
        ("big", {"key": "/" + shm_in.name, "offset": 65, "byte_size": N}, 400,
         "failed to register shared memory region 'big': offset 65 + byte_size %d is past the end" % N),
        ("k", {"byte_size": 8}, 400, "shared memory region 'k': key: required"),
        ("k", {"key": 7, "byte_size": 8}, 400, "key: expected a string"),
        ("k", {"key": "/" + shm_in.name}, 400, "byte_size: required"),
        ("k", {"key": "/" + shm_in.name, "byte_size": 8, "offset": -1}, 400, "offset: expected an integer in [0,"),
        ("k", {"key": "/" + shm_in.name, "byte_size": 8, "flags": 1}, 400, "flags: not supported"),
        ("k", {"key": shm_in.name, "byte_size": 8}, 400, "is not a POSIX shared memory name"),
        ("k", {"key": "/modelpool_no_such_object", "byte_size": 8}, 500,
         "Unable to open shared memory region: '/modelpool_no_such_object'")):
    status, resp = register(name, body)
    check(status == want and needle in error_of(resp), "register %s %r: %s %r" % (name, body, status, resp))

status, resp = request(port, "GET", "/v2/systemsharedmemory/status")
regions = sorted(json.loads(resp), key=lambda r: r["name"]) if status == 200 else None
check(regions == [{"name": "in", "key": "/" + shm_in.name, "offset": 64, "byte_size": N},
                  {"name": "out", "key": "/" + shm_out.name, "offset": 0, "byte_size": N + 16}],
      "shm status: %s %r" % (status, resp))
status, resp = request(port, "GET", "/v2/systemsharedmemory/region/in/status")
check(status == 200 and [r["name"] for r in json.loads(resp)] == ["in"], "shm status of in: %s %r" % (status, resp))
status, resp = request(port, "GET", "/v2/systemsharedmemory/region/nope/status")
check(status == 404 and "Unable to find system shared memory region: 'nope'" in error_of(resp),
      "status of an unknown region: %s %r" % (status, resp))
status, _ = request(port, "GET", "/v2/systemsharedmemory/region/in/register")
check(status == 405, "GET register: %s" % status)

# Input from "in", output into "out" at 16; another output as JSON.
payload = os.urandom(N)
shm_in.buf[64:64 + N] = payload
shm_region = lambda region, size, offset=None: {
    "shared_memory_region": region, "shared_memory_byte_size": size,
    **({} if offset is None else {"shared_memory_offset": offset})}
infer = lambda body: request(port, "POST", "/v2/models/echo/infer", body)
status, resp = infer({"id": "s1",
                      "inputs": [{"name": "x", "datatype": "UINT8", "shape": [N], "parameters": shm_region("in", N, 0)},
                                 {"name": "j", "datatype": "INT32", "shape": [2], "data": [7, -8]}],
                      "outputs": [{"name": "x", "parameters": shm_region("out", N, 16)}, {"name": "j"}]})
check(status == 200, "shm infer: %s %r" % (status, resp[:300]))
if status == 200:
    outs = {o["name"]: o for o in json.loads(resp)["outputs"]}
    x = outs.get("x", {})
    check("data" not in x and x.get("shape") == [N] and x.get("datatype") == "UINT8" and
          x.get("parameters") == {"shared_memory_region": "out", "shared_memory_offset": 16,
                                  "shared_memory_byte_size": N},
          "shm output entry: %r" % x)
    check(outs.get("j", {}).get("data") == [7, -8], "JSON output beside a shm one: %r" % outs.get("j"))
    check(bytes(shm_out.buf[16:16 + N]) == payload, "the output region does not hold the input's bytes")

for name, body, want, needle in (
        ("output too small", {"inputs": [{"name": "x", "datatype": "UINT8", "shape": [N],
                                          "parameters": shm_region("in", N)}],
                              "outputs": [{"name": "x", "parameters": shm_region("out", 100)}]}, 400,
         "output 'x': shared memory region 'out': shared_memory_byte_size 100 should be at least %d bytes" % N),
        ("input past the region", {"inputs": [{"name": "x", "datatype": "UINT8", "shape": [N],
                                               "parameters": shm_region("in", N, 1)}]}, 400,
         "input 'x': shared memory region 'in': offset 1 + byte_size %d is past its end (%d bytes)" % (N, N)),
        ("size against shape", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [3],
                                            "parameters": shm_region("in", 8)}]}, 400,
         "input 'x': shared_memory_byte_size 8 does not match shape [3] of FP32"),
        ("data and a region", {"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], "data": [1],
                                           "parameters": shm_region("in", 1)}]}, 400,
         "input 'x': both data and shared_memory_region: give one"),
        ("binary and a region", {"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], "data": [1]}],
                                 "outputs": [{"name": "x", "parameters": {"binary_data": True, **shm_region("out", 1)}}]},
         400, "output 'x': both binary_data and shared_memory_region: give one"),
        ("unknown region", {"inputs": [{"name": "x", "datatype": "INT8", "shape": [1],
                                        "parameters": shm_region("nope", 1)}]}, 404,
         "input 'x': Unable to find shared memory region: 'nope'")):
    status, resp = infer(body)
    check(status == want and needle in error_of(resp), "%s: %s %r" % (name, status, resp[:300]))

# The README's example, as written, against this server.
readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../README.md")).read()
example = re.search(r"```python\n(.*?)```", readme, re.S)
check(example is not None and "shared_memory" in example.group(1), "README: no client shared memory example")
if example:
    printed = []
    try:
        exec(example.group(1).replace("127.0.0.1:8080", "127.0.0.1:%d" % port), {"print": printed.append})
    except Exception as e:  # noqa: BLE001 - any failure of the example is the finding
        printed.append(e)
    check(printed[-1:] == [42], "README shared memory example printed %r" % printed)

# Unregister one, an unknown one (a no-op, as Triton), then all.
status, resp = request(port, "POST", "/v2/systemsharedmemory/region/in/unregister")
check(status == 200, "unregister in: %s %r" % (status, resp))
status, resp = request(port, "GET", "/v2/systemsharedmemory/status")
check(status == 200 and [r["name"] for r in json.loads(resp)] == ["out"], "status after unregister: %r" % resp)
status, resp = request(port, "POST", "/v2/systemsharedmemory/region/nope/unregister")
check(status == 200, "unregister an unknown region: %s %r" % (status, resp))
status, resp = infer({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [N], "parameters": shm_region("in", N)}]})
check(status == 404, "infer with an unregistered region: %s %r" % (status, resp[:200]))
status, resp = request(port, "POST", "/v2/systemsharedmemory/unregister")
check(status == 200, "unregister all: %s %r" % (status, resp))
status, resp = request(port, "GET", "/v2/systemsharedmemory/status")
check(status == 200 and json.loads(resp) == [], "status after unregister all: %r" % resp)
# Nothing of the clients' stays mapped or open in the server, and the
# objects are still the clients' (the server unlinks nothing).
check(wait_until(lambda: not server_shm_paths(srv.proc.pid), 5),
      "the server still maps after unregister: %r" % server_shm_paths(srv.proc.pid))
srv.proc.send_signal(signal.SIGTERM)
try:
    srv.proc.wait(timeout=30)
except subprocess.TimeoutExpired:
    check(False, "the shm server did not exit on SIGTERM")
srv.kill()
check(all(os.path.exists("/dev/shm/" + n) for n in ours), "the server removed a client's shm object")
for shm in (shm_in, shm_out):
    shm.close()
    shm.unlink()

# ---------------------------------------------------------------- drain
srv = Server(CONFIG % {"drain": 1500, "model": MODEL})
check(srv.port is not None and srv.wait_ready(), "drain server did not start")
port = srv.port
results = {}


def stream_client(i):
    s = connect(port)
    s.sendall(post("/v1/chat/completions", {"model": "default", "messages": [{"role": "user", "content": "Go"}],
                                            "max_tokens": 100000, "ignore_eos": True, "stream": True}))
    results["stream%d" % i] = read_all(s, 20)
    s.close()


def plain_client(name, path, body):
    s = connect(port)
    s.sendall(post(path, body))
    results[name] = read_all(s, 20)
    s.close()


threads = [threading.Thread(target=stream_client, args=(i,)) for i in range(3)]
threads.append(threading.Thread(target=plain_client, args=("plain", "/v1/completions", LONG)))
threads.append(threading.Thread(target=plain_client, args=("infer", "/v2/models/slow/infer",
                                                          {"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1]}]})))
keep = connect(port)  # idle: closed when the drain starts
for t in threads:
    t.start()
check(wait_until(lambda: busy_slots(port) == 4, 5), "drain: 4 generations should run")
time.sleep(0.3)
t0 = time.time()
srv.proc.send_signal(signal.SIGTERM)
time.sleep(0.2)
refused = False
try:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
except OSError:
    refused = True
check(refused, "drain: a new connection was accepted after SIGTERM")
keep.settimeout(2)
try:
    closed = keep.recv(100) == b""
except socket.timeout:
    closed = False
except ConnectionResetError:
    closed = True
check(closed, "drain: an idle keep-alive connection was not closed")
rc = srv.proc.wait(timeout=10)
elapsed = time.time() - t0
for t in threads:
    t.join()
check(rc == 0, "drain: exit code %s" % rc)
check(1.4 <= elapsed <= 1.5 + 1.0 + 0.2, "drain: exited %.2f s after SIGTERM (drain 1.5 s, at most 1 s more)" % elapsed)
for i in range(3):
    out = results.get("stream%d" % i, b"")
    check(b'"error"' in out and b"shutting down" in out and out.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"),
          "drain: stream %d did not end with an error event and [DONE]: %r" % (i, out[-400:]))
for name in ("plain", "infer"):
    out = results.get(name, b"")
    check(out.startswith(b"HTTP/1.1 503") and b"shutting down" in out, "drain: %s: %r" % (name, out[:300]))
m = re.search(r"stopped: (\d+) request\(s\) cut off", srv.text())
check(m is not None and int(m.group(1)) == 5, "drain: the log's count of cut-off requests: %s" % srv.text()[-1500:])

# A second SIGTERM exits at once.
srv = Server(CONFIG % {"drain": 20000, "model": MODEL})
check(srv.port is not None and srv.wait_ready(), "second-signal server did not start")
port = srv.port
t = threading.Thread(target=stream_client, args=(9,))
t.start()
check(wait_until(lambda: busy_slots(port) == 1, 5), "second signal: the stream should run")
srv.proc.send_signal(signal.SIGTERM)
time.sleep(0.3)
t0 = time.time()
srv.proc.send_signal(signal.SIGTERM)
try:
    rc = srv.proc.wait(timeout=3)
except subprocess.TimeoutExpired:
    rc = None
check(rc is not None and time.time() - t0 < 1.0, "second SIGTERM: still running after %.2f s" % (time.time() - t0))
srv.kill()
t.join()

# ---------------------------------------------------------------- start-up and operations
bad = CONFIG % {"drain": 1000, "model": MODEL} + '\n[[model]]\nname = "broken"\nbackend = "llama"\npath = "%s/none.gguf"\n' % WORK
srv = Server(bad)
try:
    rc = srv.proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    rc = None
lines = [l for l in srv.text().splitlines() if "broken" in l and "failed to load" in l]
check(rc == 1 and len(lines) == 1 and "none.gguf" in lines[0], "a model that fails to load: exit %s, log: %s" % (rc, srv.text()[-800:]))
srv.kill()

with open(os.path.join(WORK, "key"), "w") as f:
    f.write("from-file\n")
# --log-level error: the failure is said, nothing else
broken_only = '[[model]]\nname = "broken"\nbackend = "llama"\npath = "%s/none.gguf"\n' % WORK
srv = Server(broken_only, "--log-level", "error")
try:
    rc = srv.proc.wait(timeout=30)
except subprocess.TimeoutExpired:
    rc = None
log = srv.text()
check(rc == 1 and "failed to load" in log and " info " not in log, "--log-level error: exit %s, log: %s" % (rc, log[-500:]))
srv.kill()

srv = Server(bad, "--allow-unready-models", "--host", "localhost", "--api-key-file", os.path.join(WORK, "key"))
port = srv.port
check(port is not None, "--host localhost: %s" % (srv.proc.poll() is None and srv.text()[-500:]))
if port:
    check(wait_until(lambda: "failed to load" in srv.text(), 60), "allow unready: no failure logged")
    check(srv.proc.poll() is None, "allow unready: the server exited")
    check(request(port, "GET", "/v2/health/ready")[0] == 503, "allow unready: ready should be false")
    check(request(port, "GET", "/v1/models")[0] == 401, "key from a file: no key accepted")
    status, resp = request(port, "POST", "/v1/completions", {"model": "default", "prompt": "Hi", "max_tokens": 2},
                           {"Authorization": "Bearer from-file"})
    check(status == 200, "key from a file: %s %r" % (status, resp[:200]))
    request(port, "GET", "/v2/health/live")
    time.sleep(0.3)
    log = srv.text()
    check(re.search(r'access 127\.0\.0\.1 "POST /v1/completions HTTP/1\.1" 200 [\d.]+ms model=default '
                    r'prompt_tokens=\d+ completion_tokens=2', log) is not None,
          "access log line: %s" % log[-1000:])
    check(re.search(r"model 'default': llama .* batched, 4 slots x 256 tokens, KV cache .* 1 threads, prefix cache 8192 tokens, 256 MiB, blocks of 16, chat template", log),
          "start-up summary: %s" % log[-2000:])
srv.kill()

srv = Server(CONFIG % {"drain": 1000, "model": MODEL}, "--no-access-log", env={"MODELPOOL_API_KEY": "from-env"})
check(srv.port is not None and srv.wait_ready(), "env key server did not start")
check(request(srv.port, "GET", "/v1/models", headers={"Authorization": "Bearer from-env"})[0] == 200,
      "key from MODELPOOL_API_KEY")
time.sleep(0.3)
check(" access " not in srv.text(), "--no-access-log still logs requests")
srv.kill()

version = subprocess.run([MP, "--version"], capture_output=True, text=True)
check(version.returncode == 0 and re.match(r"modelpool \d+\.\d+\.\d+", version.stdout), "--version: %r" % version.stdout)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("protocol: all checks passed")
