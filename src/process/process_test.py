#!/usr/bin/env python3
"""Process isolation end to end: `modelpool serve` with models whose instances
live in worker processes, and workers that die.

    process_test.py MODELPOOL TINY_MODEL

Checks what a client sees: a request whose worker is killed before anything
was streamed is answered anyway (retried on another worker); a stream whose
worker dies after its first tokens ends with an error naming the crash; a
model whose workers keep dying is unready with the reason on
/v2/models/{m}/ready, /v2/health/ready, /v1/models and /metrics; a SIGSTOPped
worker is replaced; the counters of /metrics and /metrics.json say what
happened. Neither the server nor a worker has anything of /dev/shm (the
arenas are memfds, with no name); afterwards no worker is left in the
process table (no zombie), after a clean shutdown and after the server is
SIGKILLed.
"""
import atexit
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from e2e import check, failures, wait_until  # noqa: E402

MP, MODEL = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp()


def call(port, method, path, body=None, timeout=60):
    """(status, body bytes) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def alive(pid):
    """True while /proc has the pid (a zombie counts: it was not reaped)."""
    return os.path.exists("/proc/%d" % pid)


SERVERS = []


@atexit.register
def kill_servers():
    """A check that raised must not leave a server (and its workers) running."""
    for srv in SERVERS:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


class Server:
    def __init__(self, toml):
        self.config = os.path.join(WORK, "models-%d.toml" % time.monotonic_ns())
        with open(self.config, "w") as f:
            f.write(toml)
        self.log_path = self.config + ".log"
        self.proc = subprocess.Popen([MP, "serve", "--config", self.config, "--port", "0"],
                                     stderr=open(self.log_path, "w"), stdout=subprocess.DEVNULL)
        SERVERS.append(self)
        self.port = None
        for _ in range(600):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        # Every model loaded (one may already be unready: not /v2/health/ready).
        wait_until(lambda: self.port and all(call(self.port, "GET", "/v2/models/%s" % m)[0] == 200
                                             for m in ("steady", "crashy", "chat")), 60)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def metrics(self, model):
        _, body = call(self.port, "GET", "/metrics.json")
        return json.loads(body)["models"][model]

    def pids(self, model):
        return self.metrics(model)["workers"]["pids"]

    def metric(self, name, labels):
        _, text = call(self.port, "GET", "/metrics")
        for line in text.decode().splitlines():
            if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None


def dev_shm():
    return set(os.listdir("/dev/shm"))


def shm_of(pid):
    """What `pid` has of /dev/shm, mapped or open: the arenas are memfds, never there."""
    found = set()
    try:
        with open("/proc/%d/maps" % pid) as f:
            found |= {line.split()[-1] for line in f if "/dev/shm/" in line}
        for fd in os.listdir("/proc/%d/fd" % pid):
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            if target.startswith("/dev/shm/"):
                found.add(target)
    except OSError:
        pass
    return found


SHM_BEFORE = dev_shm()
CONFIG = """
[server]
drain_timeout_ms = 2000

[[model]]
name = "steady"
backend = "sim"
isolation = "process"
instances = 1
[model.options]
service_ms = 400

[[model]]
name = "crashy"
backend = "sim"
isolation = "process"
instances = 1
[model.options]
crash_after = 1
crash_signal = "SIGSEGV"
[model.process]
crash_loop_limit = 2
restart_backoff_max_ms = 60000

[[model]]
name = "chat"
backend = "llama"
path = "%(model)s"
isolation = "process"
mode = "batched"
slots = 2
context = 512
threads = 1
[model.options]
fault_step_delay_ms = 40
"""
srv = Server(CONFIG % {"model": MODEL})
check(srv.port is not None, "server did not start: " + srv.text()[-3000:])
port = srv.port
ECHO = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [3], "data": [1, 2, 3]}]}

# --- a worker killed while it runs a request: the request is answered anyway.
steady = srv.pids("steady")
check(len(steady) == 1 and all(alive(p) for p in steady) and os.getpid() not in steady, "workers: %r" % steady)
result = {}
t = threading.Thread(target=lambda: result.update(r=call(port, "POST", "/v2/models/steady/infer", ECHO)))
t.start()
check(wait_until(lambda: srv.metrics("steady")["instances"]["busy"] == 1, 5), "the request did not start")
time.sleep(0.1)
os.kill(steady[0], signal.SIGKILL)  # the one running it: the retry waits for its replacement
t.join(30)
status, body = result.get("r", (None, b""))
check(status == 200 and json.loads(body)["outputs"][0]["data"] == [1, 2, 3],
      "killed before answering: retried and answered: %s %r" % (status, body[:300]))
w = srv.metrics("steady")["workers"]
check(w["requests"]["retried"] == 1 and w["requests"]["failed_by_crash"] == 0, "retry counted: %r" % w)
check(w["crashes"].get("SIGKILL") == 1, "crashes by signal: %r" % w)
check(wait_until(lambda: len(srv.pids("steady")) == 1 and srv.metrics("steady")["instances"]["idle"] == 1, 5),
      "the pool was not whole again: %r" % srv.metrics("steady"))
check(not any(alive(p) for p in steady), "killed workers left in the process table: %r" % steady)
check(srv.metric("modelpool_worker_crashes_total", {"model": "steady", "cause": "SIGKILL"}) == 1,
      "/metrics crashes")
check(srv.metric("modelpool_worker_requests_total", {"model": "steady", "outcome": "retried"}) == 1,
      "/metrics retried")

# --- a stopped (hung) worker misses its heartbeats and is replaced.
victim = srv.pids("steady")[0]
os.kill(victim, signal.SIGSTOP)
check(wait_until(lambda: victim not in srv.pids("steady") and not alive(victim), 5), "SIGSTOPped worker not replaced")
check(srv.metrics("steady")["workers"]["heartbeat_kills"] >= 1, "heartbeat kill counted")
status, _ = call(port, "POST", "/v2/models/steady/infer", ECHO)
check(status == 200, "after the replacement: %s" % status)

# --- a crash loop: each worker dies on its first request.
status, body = call(port, "POST", "/v2/models/crashy/infer", ECHO)
err = json.loads(body).get("error", "") if body else ""
check(status == 503 and "model 'crashy'" in err and "SIGSEGV" in err and "retried once" in err,
      "a request whose workers both crash: %s %r" % (status, body[:400]))
status, body = call(port, "GET", "/v2/models/crashy/ready")
ready = json.loads(body) if body else {}
check(status == 503 and ready.get("ready") is False and "crash-looping" in ready.get("reason", ""),
      "crash loop on /v2/models/crashy/ready: %s %r" % (status, body))
status, body = call(port, "GET", "/v2/health/ready")
check(status == 503 and b"crash-looping" in body and b"SIGSEGV" in body,
      "crash loop on /v2/health/ready: %s %r" % (status, body))
status, body = call(port, "GET", "/v1/models")
cards = {m["id"]: m for m in json.loads(body)["data"]}
check(cards["crashy"]["ready"] is False and "SIGSEGV" in cards["crashy"].get("unready_reason", "")
      and cards["steady"]["ready"] is True, "/v1/models: %r" % cards)
check(srv.metric("modelpool_model_ready", {"model": "crashy"}) == 0, "/metrics modelpool_model_ready")
check(srv.metric("modelpool_model_unready_info", {"model": "crashy"}) == 1, "/metrics unready info")
check(srv.metric("modelpool_worker_requests_total", {"model": "crashy", "outcome": "failed_by_crash"}) == 1,
      "/metrics failed_by_crash")
status, body = call(port, "POST", "/v2/models/crashy/infer", ECHO)
check(status == 503 and b"crash-looping" in body, "refused while crash-looping: %s %r" % (status, body[:300]))

# --- an LLM in a worker: killed mid-generation before streaming, retried;
# killed after streaming began, the stream ends with an error naming it.
def completion(body):
    return call(port, "POST", "/v1/completions", {"model": "chat", "prompt": "Hello", **body})


t = threading.Thread(target=lambda: result.update(g=completion({"max_tokens": 12, "ignore_eos": True})))
t.start()
check(wait_until(lambda: srv.metrics("chat")["instances"]["busy"] >= 1, 10), "generation did not start")
time.sleep(0.15)
chat_pid = srv.pids("chat")[0]
os.kill(chat_pid, signal.SIGKILL)
t.join(60)
status, body = result.get("g", (None, b""))
check(status == 200 and json.loads(body)["usage"]["completion_tokens"] == 12,
      "LLM killed before streaming: retried and answered: %s %r" % (status, body[:300]))

check(wait_until(lambda: len(srv.pids("chat")) == 1, 10), "the LLM worker was not replaced")
s = socket.create_connection(("127.0.0.1", port), timeout=30)
payload = json.dumps({"model": "chat", "prompt": "Hello", "max_tokens": 200, "ignore_eos": True,
                      "stream": True}).encode()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
stream = b""
while b"data: {" not in stream:
    stream += s.recv(65536)
os.kill(srv.pids("chat")[0], signal.SIGKILL)
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    stream += chunk
    if b"data: [DONE]" in stream or stream.endswith(b"0\r\n\r\n"):
        break
s.close()
text = stream.decode(errors="replace")
check("SIGKILL" in text and "model 'chat'" in text and "retried" not in text,
      "a stream whose worker died says so: %r" % text[-600:])
w = srv.metrics("chat")["workers"]
check(w["requests"]["retried"] == 1 and w["requests"]["failed_by_crash"] == 1, "LLM counters: %r" % w)

# --- shutdown: every worker exits and is reaped.
pids = srv.pids("steady") + srv.pids("crashy") + srv.pids("chat")
for pid in [srv.proc.pid] + pids:
    check(not shm_of(pid), "process %d uses /dev/shm: %r" % (pid, shm_of(pid)))
arenas = [os.readlink("/proc/%d/fd/%s" % (pids[0], fd)) for fd in os.listdir("/proc/%d/fd" % pids[0])]
check(any(a.startswith("/memfd:modelpool-arena") for a in arenas), "a worker's arena is a memfd: %r" % arenas)
srv.proc.send_signal(signal.SIGTERM)
code = srv.proc.wait(60)
check(code == 0, "server exit code %s: %s" % (code, srv.text()[-3000:]))
check(wait_until(lambda: not any(alive(p) for p in pids), 5), "workers after SIGTERM: %r" %
      [p for p in pids if alive(p)])

# --- the server crashes: its workers die with it, even a stopped one.
srv = Server(CONFIG % {"model": MODEL})
check(srv.port is not None, "second server did not start")
pids = srv.pids("steady") + srv.pids("chat")
os.kill(pids[0], signal.SIGSTOP)
srv.proc.kill()
srv.proc.wait()
check(wait_until(lambda: not any(alive(p) for p in pids), 5), "workers outlived a SIGKILLed server: %r" %
      [p for p in pids if alive(p)])
# Other programs may use /dev/shm meanwhile; nothing of ours may be there.
ours = {n for n in dev_shm() - SHM_BEFORE if "modelpool" in n}
check(not ours, "/dev/shm has new objects of ours: %r" % ours)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("process isolation: all checks passed")
