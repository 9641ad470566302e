#!/usr/bin/env python3
"""The dashboard in a real browser: `modelpool serve` with an API key and two
sim models under load, the page opened in Debian's headless Chromium driven
by playwright-core (tests/browser/dashboard_test.mjs).

    dashboard_test.py MODELPOOL ARTIFACT_DIR

Models: `slow` (3 instances in threads, 2 s sleeping runs, 5 callers: every
instance busy and 2 waiting) and `isolated` (2 worker processes, 150 ms runs,
3 callers). Here: the routes and their keys (/ redirects, the page is open,
/dashboard.json needs the key, /metrics and /metrics.json stay open).
In the browser (the .mjs file): the key flow, tiles and states equal to
/metrics.json's counts, worker pids, the queue, a provoked 504 in the recent
errors, a killed worker's replacement shown with its new pid, no
horizontal scroll at 390 px, screenshots, no console errors.
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import serverlib  # noqa: E402
from e2e import check, failures  # noqa: E402

serverlib.MP = sys.argv[1]
ARTIFACTS = sys.argv[2]
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
KEY = "dashboard-test-key"
INFER = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [3], "data": [1, 2, 3]}]}
CONFIG = """
[[model]]
name = "slow"
backend = "sim"
instances = 3
timeout_ms = 60000
options = { service_ms = 2000, service = "sleep", weights_mb = 16, instance_mb = 2 }

[[model]]
name = "isolated"
backend = "sim"
isolation = "process"
instances = 2
timeout_ms = 60000
options = { service_ms = 150, service = "sleep", weights_mb = 16, instance_mb = 2 }
"""


def request(url, path, key=None, body=None, follow=True):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, headers=headers, method="POST" if data else "GET")
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(NoRedirect())
    try:
        with opener.open(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check_routes(url):
    status, headers, _ = request(url, "/", follow=False)
    check(status == 302 and headers.get("Location") == "/dashboard", "GET / redirects to /dashboard: %s %s" % (status, headers))
    status, headers, body = request(url, "/dashboard")
    check(status == 200 and b"dashboard.js" in body and "text/html" in headers.get("Content-Type", ""),
          "the page is served without the key: %s" % status)
    check("default-src 'self'" in headers.get("Content-Security-Policy", ""), "the page has a security policy")
    for path in ("/dashboard/dashboard.js", "/dashboard/dashboard.css"):
        status, _, body = request(url, path)
        check(status == 200 and len(body) > 100, "%s is embedded: %s" % (path, status))
    status, _, body = request(url, "/dashboard.json")
    check(status == 401 and b"missing API key" in body, "/dashboard.json needs the key: %s %s" % (status, body[:200]))
    status, _, body = request(url, "/dashboard.json", key="wrong")
    check(status == 401 and b"wrong API key" in body, "/dashboard.json refuses a wrong key: %s %s" % (status, body[:200]))
    status, _, body = request(url, "/dashboard.json", key=KEY)
    doc = json.loads(body) if status == 200 else {}
    check(status == 200 and "instance_list" in doc.get("models", {}).get("slow", {}),
          "/dashboard.json with the key has the instance list: %s" % status)
    status, _, body = request(url, "/metrics.json")
    check(status == 200 and "instance_list" not in json.loads(body)["models"]["slow"],
          "/metrics.json stays open and without the detail: %s" % status)
    status, _, _ = request(url, "/metrics")
    check(status == 200, "/metrics stays open: %s" % status)


def load(url, model, stop):
    while not stop.is_set():
        status, _, body = request(url, "/v2/models/%s/infer" % model, key=KEY, body=INFER)
        if status != 200 and not stop.is_set():
            print("load: %s answered %s %s" % (model, status, body[:200]), flush=True)
            time.sleep(0.2)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    node = os.path.join(BROWSER_DIR, "node20")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        print("FAIL: playwright-core is not installed in tests/browser: run scripts/setup-deps")
        return 1
    with serverlib.Server(CONFIG, extra_args=("--api-key", KEY)) as srv:
        check_routes(srv.url)
        stop = threading.Event()
        callers = [threading.Thread(target=load, args=(srv.url, "slow", stop)) for _ in range(5)]
        callers += [threading.Thread(target=load, args=(srv.url, "isolated", stop)) for _ in range(3)]
        for t in callers:
            t.start()
        try:
            browser = subprocess.run([node, os.path.join(BROWSER_DIR, "dashboard_test.mjs"), srv.url, KEY, ARTIFACTS],
                                     timeout=240)
            check(browser.returncode == 0, "the browser test failed (exit %s)" % browser.returncode)
        finally:
            stop.set()
            for t in callers:
                t.join()
        if failures:
            print(srv.log()[-3000:])
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("dashboard: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
