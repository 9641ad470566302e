"""Shared by the Python benchmark scripts: a `modelpool serve` started on a
free port, its /metrics.json, process memory (PSS) and the process table.

    from serverlib import Server, pss_bytes, machine
    with Server(toml_text) as srv:
        srv.metrics()["models"]["m"]["workers"]["pids"]
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP = os.path.join(ROOT, "build", "bin", "modelpool")
CACHE = os.environ.get("MODELPOOL_CACHE", os.path.expanduser("~/.cache/modelpool"))


def model(preset):
    """Path of a generated model (bench/common.sh's `model`), made on first use."""
    path = os.path.join(CACHE, "models", preset + ".gguf")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run([MP, "mkmodel", "--preset", preset, "--out", path + ".tmp"], check=True,
                       stdout=subprocess.DEVNULL)
        os.rename(path + ".tmp", path)
    return path


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return "machine: %d cores, %s; load average %s; uptime: %s" % (os.cpu_count(), cpu, " ".join(load), up)


def wait_for_quiet(limit_s=None, below=1.0):
    """Waits (polling every 15 s, at most limit_s: QUIET_WAIT_S, default
    600) until the 1-minute load is below `below`; returns the load seen
    last."""
    if limit_s is None:
        limit_s = float(os.environ.get("QUIET_WAIT_S", 600))
    end = time.time() + limit_s
    while True:
        with open("/proc/loadavg") as f:
            load = float(f.read().split()[0])
        if load < below or time.time() >= end:
            return load
        time.sleep(15)


def alive(pid):
    """True while /proc has the pid (a zombie counts: it was not reaped)."""
    return os.path.exists("/proc/%d" % pid)


def state(pid):
    """The process's state letter (R, S, T, Z, ...), None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def children(pid):
    """Pids whose parent is `pid`, with their ps state: [(pid, 'S'), ...]."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [(int(p), s) for p, s in (line.split() for line in out.splitlines() if line.strip())]


def pss_bytes(pid):
    """Pss of /proc/PID/smaps_rollup in bytes; 0 when the process is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(pid):
    """PSS of a process and its children (a server and its workers)."""
    return pss_bytes(pid) + sum(pss_bytes(c) for c, _ in children(pid))


def dev_shm():
    return set(os.listdir("/dev/shm"))


class Server:
    """`modelpool serve --config` on a free port, access log off; stopped
    with SIGTERM on exit (its exit code in .exit_code)."""

    def __init__(self, toml, extra_args=(), ready_timeout=120):
        self.work = tempfile.mkdtemp(prefix="mpbench-")
        self.config = os.path.join(self.work, "models.toml")
        with open(self.config, "w") as f:
            f.write(toml)
        self.log_path = os.path.join(self.work, "serve.log")
        self.proc = subprocess.Popen([MP, "serve", "--config", self.config, "--port", "0", "--no-access-log",
                                      *extra_args], stderr=open(self.log_path, "w"), stdout=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.port = None
        self.exit_code = None
        end = time.time() + ready_timeout
        while time.time() < end:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        while self.port and time.time() < end and self.call("GET", "/v2/health/ready")[0] != 200:
            time.sleep(0.05)
        if not self.port or self.call("GET", "/v2/health/ready")[0] != 200:
            self.stop()
            raise RuntimeError("modelpool serve did not become ready:\n" + self.log()[-3000:])
        self.url = "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    def metrics(self):
        status, body = self.call("GET", "/metrics.json")
        if status != 200:
            raise RuntimeError("GET /metrics.json: %s" % status)
        return json.loads(body)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_code = self.proc.returncode


def percentile(values, q):
    """The q-th percentile (0..100) by nearest rank; None when empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def median(values):
    v = sorted(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
