#!/usr/bin/env python3
"""Autoscaling within a memory budget, end to end: `modelpool serve` with a
sleep-bound sim model of instances [1, 6] and a budget that holds its
weights and three instances.

    autoscale_test.py MODELPOOL

A burst of 9 requests makes the pool grow (after upscale_delay_ms) to what
the budget holds, not to 6: the log says why once, /metrics counts the
refusals and shows the budget limiting it, and every request of the burst is
answered 200 by the instances there are. Idle again, the pool shrinks back
to 1 after downscale_delay_ms, and the budget's used bytes fall with it.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from e2e import check, failures, free_port, request, stop, wait_until  # noqa: E402

MP = sys.argv[1]


def infer(port, results, i):
    body = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [i]}]}
    status, text = request(port, "POST", "/v2/models/echo/infer", body)
    results[i] = (status, json.loads(text)["outputs"][0]["data"] if status == 200 else text)


def metric(text, name, model="echo"):
    m = re.search(r'^%s\{model="%s"\} (\S+)$' % (re.escape(name), model), text, re.M)
    return float(m.group(1)) if m else None


def instances(port):
    _, text = request(port, "GET", "/metrics", timeout=10)
    live = 0
    for state in ("idle", "busy", "checking", "creating"):
        m = re.search(r'^modelpool_instances\{model="echo",state="%s"\} (\d+)$' % state, text, re.M)
        live += int(m.group(1)) if m else 0
    return live, text


port = free_port()
config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
# Weights 4 MiB + 3 instances of 10 MiB = 34 MiB fit in 40 MiB; a fourth does not.
config.write("""
[server]
port = %d
memory_budget = "40MiB"

[[model]]
name = "echo"
backend = "sim"
instances = [1, 6]
[model.options]
service_ms = 600
weights_mb = 4
instance_mb = 10
[model.autoscale]
upscale_delay_ms = 100
downscale_delay_ms = 3000
""" % port)
config.close()
log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
server = subprocess.Popen([MP, "serve", "--config", config.name, "--no-access-log"], stdout=log, stderr=log)
try:
    check(wait_until(lambda: request(port, "GET", "/v2/health/ready", timeout=10)[0] == 200, 30), "server ready")
    live, text = instances(port)
    check(live == 1, "starts with min_instances = 1, has %d" % live)
    check(metric(text, "modelpool_instances_max") == 6, "instances_max 6")
    used_at_start = float(re.search(r"^modelpool_memory_budget_used_bytes (\S+)$", text, re.M).group(1))
    check(used_at_start == 14 * 2**20, "budget holds weights and one instance: %s" % used_at_start)
    check(re.search(r"^modelpool_memory_budget_bytes 41943040$", text, re.M), "budget gauge")

    # A burst of 9: the load wants 6, the budget holds 3, which serve it in
    # three full waves (so the load wants fewer only once the last ends).
    results = {}
    threads = [threading.Thread(target=infer, args=(port, results, i)) for i in range(9)]
    for t in threads:
        t.start()
    grew = wait_until(lambda: instances(port)[0] == 3, 10)
    check(grew, "grew to the 3 instances the budget holds")
    time.sleep(0.6)  # more than a budget retry: it does not pass the budget
    live, text = instances(port)
    check(live == 3, "still 3 instances under the budget, has %d" % live)
    check(metric(text, "modelpool_memory_budget_limited") == 1, "budget_limited is 1 during the burst")
    check((metric(text, "modelpool_memory_budget_refusals_total") or 0) >= 1, "refusals counted")
    check(metric(text, "modelpool_instances_desired") == 6, "the load wants 6: %s" % metric(text, "modelpool_instances_desired"))
    used = float(re.search(r"^modelpool_memory_budget_used_bytes (\S+)$", text, re.M).group(1))
    check(used == 34 * 2**20, "used bytes: weights and 3 instances, got %s" % used)
    for t in threads:
        t.join()
    check(len(results) == 9 and all(r[0] == 200 and r[1] == [i] for i, r in results.items()),
          "every request of the burst answered 200 with its data: %s" % results)
    log.seek(0)
    logged = log.read()
    refusals = re.findall(r"model 'echo': not growing: memory budget: pool 'echo': instance \d+ needs 10\.0 MiB, "
                          r"34\.0 MiB of 40\.0 MiB in use", logged)
    check(len(refusals) == 1, "the refusal is logged once per episode, got %d:\n%s" % (len(refusals), logged))

    # Idle: back to min_instances after downscale_delay_ms, not before.
    idle_at = time.time()
    time.sleep(0.5)
    check(instances(port)[0] == 3, "no shrink before downscale_delay_ms")
    check(wait_until(lambda: instances(port)[0] == 1, 10), "shrank back to 1 when idle")
    check(time.time() - idle_at >= 2.0, "shrank after the delay: %.2fs" % (time.time() - idle_at))
    live, text = instances(port)
    check(metric(text, "modelpool_memory_budget_limited") == 0, "budget_limited back to 0")
    used = float(re.search(r"^modelpool_memory_budget_used_bytes (\S+)$", text, re.M).group(1))
    check(used == 14 * 2**20, "the budget got the bytes back: %s" % used)
finally:
    stop(server)
    os.unlink(config.name)

if failures:
    log.seek(0)
    print(log.read()[-4000:])
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("autoscale: ok")
