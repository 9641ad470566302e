"""What the end-to-end test scripts share: checks that count their
failures, a free port, polling, one JSON request over HTTP, and stopping
a server.

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from e2e import check, failures, free_port, request, wait_until

    check(status == 200, "the model answers: %s" % status)
    ...
    sys.exit(1 if failures else 0)

check() prints each failure as it happens (and each pass too once
`e2e.say_ok = True`, for scripts that walk a matrix of cases); `failures`
is the one list a script's exit status comes from.
"""
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

failures = []
say_ok = False


def check(cond, what):
    """Records `what` as failed unless `cond`; returns `cond`."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    elif say_ok:
        print("ok:  ", what, flush=True)
    return cond


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, step=0.05):
    """Polls pred() every `step` seconds; its last value after `timeout`."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def request(port, method, path, body=None, timeout=30):
    """(status, body text) of one request to 127.0.0.1:port, `body` sent as
    JSON; (None, why) when no response came."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def stop(proc, grace=20):
    """SIGTERM to `proc`, SIGKILL if it has not exited `grace` seconds later;
    its exit status (None if killed)."""
    proc.terminate()
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
