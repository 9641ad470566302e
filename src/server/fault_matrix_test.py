#!/usr/bin/env python3
"""The fault matrix, end to end: each fault injected into a real `modelpool
serve` (sim models) with the outcome a client and an operator rely on.

    fault_matrix_test.py MODELPOOL

  run throws            500 naming the throw; the instance is replaced; the next request is 200
  run past the deadline 504 at the deadline; the instance is free again at once
  creation fails        twice: the model still comes up; always: UNAVAILABLE with the
                        reason, 503 naming it, the other models serve
  client disconnects    (not streaming) the run is cancelled, counted 499, the instance freed
  memory budget         weights that do not fit: the model is UNAVAILABLE naming the budget
  drain delay           after SIGTERM: readiness 503 at once, requests still served for
                        drain_delay_ms, then the listener closes and the server exits 0
  disk full             generating a model on a full file system: exit 1 naming the path and
                        ENOSPC, no file (or .partial) left; `serve` exits 1 likewise

The rest of the matrix (workers killed or hung, streams cut, SIGTERM under
load and twice, growth stopped at the budget, failing health checks) is
asserted where it lives; docs/faults.md lists every fault with its test.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import e2e  # noqa: E402
from e2e import check, failures, free_port, request, stop, wait_until  # noqa: E402

e2e.say_ok = True
MP = sys.argv[1]


def infer_body(i=1):
    return {"inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [i]}]}


def model_json(port, name):
    status, text = request(port, "GET", "/metrics.json")
    if status != 200:
        return {}
    return json.loads(text)["models"].get(name, {})


port = free_port()
work = tempfile.mkdtemp()
config = os.path.join(work, "models.toml")
with open(config, "w") as f:
    f.write("""
[server]
port = %d
allow_unready_models = true
memory_budget = "64MiB"

[[model]]
name = "thrower"
backend = "sim"
[model.options]
throw_run_every = 2

[[model]]
name = "slow"
backend = "sim"
timeout_ms = 300
[model.options]
service_ms = 5000

[[model]]
name = "flaky"
backend = "sim"
[model.options]
fail_create = 2

[[model]]
name = "broken"
backend = "sim"
[model.options]
fail_create = -1

[[model]]
name = "huge"
backend = "sim"
[model.options]
weights_mb = 128
""" % port)
log_path = os.path.join(work, "serve.log")
log = open(log_path, "w+")
server = subprocess.Popen([MP, "serve", "--config", config], stdout=log, stderr=log)
try:
    check(wait_until(lambda: request(port, "GET", "/v2/health/live")[0] == 200, 30), "server up")
    check(wait_until(lambda: request(port, "GET", "/v2/models/flaky/ready")[0] == 200, 30),
          "creation fails twice: the model still comes up (backoff, then a third try)")

    # run throws
    first = request(port, "POST", "/v2/models/thrower/infer", infer_body(1))
    thrown = request(port, "POST", "/v2/models/thrower/infer", infer_body(2))
    check(first[0] == 200, "run throws: the first run is fine: %s" % (first,))
    check(thrown[0] == 500 and "injected throw on run 2" in thrown[1], "run throws: 500 naming the throw: %s"
          % (thrown,))
    after = request(port, "POST", "/v2/models/thrower/infer", infer_body(3))
    check(after[0] == 200, "run throws: the next request is served: %s" % (after,))
    check(wait_until(lambda: model_json(port, "thrower").get("instances", {}).get("broken", 1) == 0, 5),
          "run throws: the broken instance is destroyed")

    # run past the deadline
    t0 = time.time()
    late = request(port, "POST", "/v2/models/slow/infer", infer_body())
    took = time.time() - t0
    check(late[0] == 504 and took < 2.0, "past the deadline: 504 in %.2fs: %s" % (took, late))
    check(wait_until(lambda: model_json(port, "slow").get("instances", {}).get("busy", 1) == 0, 1.0),
          "past the deadline: the instance is free again at once")

    # creation always fails
    status, text = request(port, "GET", "/v2/models/broken/ready")
    check(status != 200, "creation always fails: not ready (%s)" % status)
    status, text = request(port, "POST", "/v2/repository/index", {})
    states = {m["name"]: m for m in json.loads(text)} if status == 200 else {}
    broken = states.get("broken", {})
    check(broken.get("state") == "UNAVAILABLE" and "fail" in broken.get("reason", ""),
          "creation always fails: UNAVAILABLE with the reason: %s" % broken)
    status, text = request(port, "POST", "/v2/models/broken/infer", infer_body())
    check(status in (404, 503) and "broken" in text, "creation always fails: a request is refused naming it: %s %s"
          % (status, text[:200]))

    # weights over the memory budget (loaded after the others: wait for it)
    def index():
        status, text = request(port, "POST", "/v2/repository/index", {})
        return {m["name"]: m for m in json.loads(text)} if status == 200 else {}
    wait_until(lambda: index().get("huge", {}).get("state") not in (None, "LOADING"), 30)
    huge = index().get("huge", {})
    check(huge.get("state") == "UNAVAILABLE" and "memory budget" in huge.get("reason", "")
          and "128.0 MiB" in huge.get("reason", ""),
          "memory budget: weights that do not fit leave the model UNAVAILABLE naming the budget: %s" % huge)
    check(request(port, "POST", "/v2/models/thrower/infer", infer_body(5))[0] in (200, 500),
          "the other models serve")

    # a client that disconnects while its (non-streaming) request runs
    before = model_json(port, "slow")
    with socket.create_connection(("127.0.0.1", port)) as s:
        body = json.dumps(infer_body()).encode()
        # No deadline of its own past the model's 300 ms: ask for more.
        s.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        check(wait_until(lambda: model_json(port, "slow").get("instances", {}).get("busy") == 1, 2),
              "disconnect: the request runs")
    cancelled = lambda: any(r["outcome"] == "cancelled" and r["code"] == 499
                            for r in model_json(port, "slow").get("requests", []))
    check(wait_until(cancelled, 2), "disconnect: counted cancelled, 499: %s" % model_json(port, "slow").get("requests"))
    check(wait_until(lambda: model_json(port, "slow").get("instances", {}).get("busy", 1) == 0, 1.0),
          "disconnect: the instance is freed")
finally:
    stop(server)

# SIGTERM with drain_delay_ms: unready at once, still serving until the delay
# is over, then draining (the listener closes) and a clean exit.
port = free_port()
with open(config, "w") as f:
    f.write("""
[server]
port = %d
drain_delay_ms = 1500

[[model]]
name = "echo"
backend = "sim"
""" % port)
server = subprocess.Popen([MP, "serve", "--config", config], stdout=log, stderr=log)
try:
    check(wait_until(lambda: request(port, "GET", "/v2/health/ready")[0] == 200, 30), "drain delay: server ready")
    import signal
    t_term = time.time()
    server.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    ready = request(port, "GET", "/v2/health/ready")
    check(ready[0] == 503, "drain delay: readiness answers 503 at once: %s" % (ready,))
    served = request(port, "POST", "/v2/models/echo/infer", infer_body(7))
    check(served[0] == 200, "drain delay: a new connection is still served during the delay: %s" % (served,))
    check(wait_until(lambda: request(port, "GET", "/v2/health/live", timeout=1)[0] is None, 5),
          "drain delay: the listener closes after it")
    closed_after = time.time() - t_term
    check(1.4 <= closed_after <= 3.0, "drain delay: the listener closed %.2f s after SIGTERM (delay 1.5 s)" % closed_after)
    check(server.wait(10) == 0, "drain delay: exit 0")
finally:
    if server.poll() is None:
        server.kill()

# disk full while generating a model (a 1 MiB tmpfs in a mount namespace of its own)
def can_mount_privately():
    """Root in a container or chroot may not get a mount namespace of its own."""
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


if os.geteuid() == 0 and shutil.which("unshare") and can_mount_privately():
    full = os.path.join(work, "full")
    os.mkdir(full)
    # stdout: the exit codes and what is left; stderr: the errors.
    script = ("mount -t tmpfs -o size=1m none %s || exit 77\n"
              "%s mkmodel --preset tiny --out %s/m.gguf >/dev/null; echo \"mkmodel=$? left=[$(ls -A %s)]\"\n"
              "MODELPOOL_CACHE=%s/cache %s serve --port 0 >/dev/null; "
              "echo \"serve=$? left=[$(ls -A %s/cache/models)]\"\n") % (full, MP, full, full, full, MP, full)
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if out.returncode == 77:
        print("skip: disk full (cannot mount a tmpfs here)")
    else:
        print(out.stdout + out.stderr)
        check("mkmodel=1 left=[]" in out.stdout, "disk full: mkmodel exits 1 and leaves no file or .partial")
        check("cannot write '%s/m.gguf': No space left on device" % full in out.stderr,
              "disk full: mkmodel names the path and ENOSPC")
        check("serve=1 left=[]" in out.stdout, "disk full: serve (generating its default model) exits 1, no file left")
        check("cannot write '%s/cache/models/small.gguf': No space left on device" % full in out.stderr,
              "disk full: serve names the path and ENOSPC")
else:
    print("skip: disk full (needs root and a mount namespace of its own: unshare -m)")

shutil.rmtree(work, ignore_errors=True)
if failures:
    log.seek(0)
    print(log.read()[-3000:])
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("fault matrix: ok")
