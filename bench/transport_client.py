#!/usr/bin/env python3
"""The HTTP half of bench/transport: one UINT8 tensor echoed by a sim model
through KServe v2, three ways, on one keep-alive http.client connection.

  json    the tensor as JSON "data" (body built once, before timing)
  binary  Triton's binary tensor extension both ways (binary_data_size,
          binary_data_output); the body is built once
  shm     Triton client shared memory: the input read from one registered
          region, the output written into another (the client writes the
          input once, before timing, and does not read the output back)

Only the HTTP request is timed (send the prebuilt body, read the whole
answer); the client's own building and parsing is reported apart. Rounds are
interleaved: per round, per size, per model, per way, a few requests.
Each request's time is also split: sending the body (http.client's
request(), i.e. until the kernel took the last byte), until the answer's
headers, reading the answer. Prints a Markdown table (--json: the numbers).

  bench/transport_client.py --port P --models echo,echo_process [--quick]
"""
import argparse
import http.client
import json
import statistics
import sys
import time
from multiprocessing import shared_memory

SIZES = [1 << 10, 1 << 20, 10 << 20, 100 << 20]
JSON_MAX = 10 << 20  # JSON of 100 MiB of UINT8 is ~370 MB of text each way


def size_name(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def payload(n):
    pattern = bytes((i * 37 + 11) & 0xFF for i in range(4096))
    return (pattern * (n // 4096 + 1))[:n]


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def post(self, path, body, headers=None, phases=None):
        """POSTs; `phases` gets (sent, answer's headers, answer read) seconds."""
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        t0 = time.perf_counter()
        self.conn.request("POST", path, body, h)
        t1 = time.perf_counter()
        r = self.conn.getresponse()
        t2 = time.perf_counter()
        data = r.read()
        t3 = time.perf_counter()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status} {data[:300]!r}")
        if phases is not None:
            phases.append((t1 - t0, t2 - t1, t3 - t2))
        return r, data


def tensor(n, parameters=None):
    t = {"name": "x", "shape": [n], "datatype": "UINT8"}
    if parameters:
        t["parameters"] = parameters
    return t


def shm_params(region, n):
    return {"shared_memory_region": region, "shared_memory_offset": 0, "shared_memory_byte_size": n}


class Way:
    """A prebuilt request for one way and size, and its check."""

    def __init__(self, way, n, data, regions):
        self.way, self.n = way, n
        t0 = time.perf_counter()
        if way == "json":
            self.body = json.dumps({"inputs": [dict(tensor(n), data=list(data))]},
                                   separators=(",", ":")).encode()
            self.headers = {}
        elif way == "binary":
            header = json.dumps({"inputs": [tensor(n, {"binary_data_size": n})],
                                 "parameters": {"binary_data_output": True}}).encode()
            self.body = header + data
            self.headers = {"Inference-Header-Content-Length": str(len(header)),
                            "Content-Type": "application/octet-stream"}
        else:
            self.body = json.dumps({"inputs": [tensor(n, shm_params("in", n))],
                                    "outputs": [{"name": "x", "parameters": shm_params("out", n)}]}).encode()
            self.headers = {}
        self.build_s = time.perf_counter() - t0
        self.regions = regions

    def check(self, response, answer, data):
        """Parses the answer and checks the echo; returns the client's parse time."""
        t0 = time.perf_counter()
        if self.way == "json":
            out = json.loads(answer)["outputs"][0]["data"]
            ok = bytes(out) == data
        elif self.way == "binary":
            k = int(response.getheader("Inference-Header-Content-Length"))
            json.loads(answer[:k])
            ok = answer[k:] == data
        else:
            json.loads(answer)
            ok = bytes(self.regions["out"].buf[: self.n]) == data
        if not ok:
            raise RuntimeError(f"{self.way} {size_name(self.n)}: the echo differs from the input")
        return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--models", default="echo")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds-per-round", type=float, default=0.3,
                    help="per model, way and size in a round (at least 1 request, at most 200)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.seconds_per_round = 2, 0.05
    models = a.models.split(",")
    c = Client(a.port)

    regions = {}
    for name in ("in", "out"):
        regions[name] = shared_memory.SharedMemory(create=True, size=max(SIZES))
        c.post(f"/v2/systemsharedmemory/region/{name}/register",
               json.dumps({"key": "/" + regions[name].name, "offset": 0, "byte_size": max(SIZES)}))
    try:
        data = {n: payload(n) for n in SIZES}
        ways = {}
        for n in SIZES:
            for way in ("json", "binary", "shm"):
                if way == "json" and n > JSON_MAX:
                    continue
                ways[(way, n)] = Way(way, n, data[n], regions)
        samples = {(m, w, n): [] for m in models for (w, n) in ways}
        phases = {key: [] for key in samples}
        parse_s, first_s = {}, {}
        # Check every (model, way, size) once, untimed: also the warm-up.
        for m in models:
            for (w, n), way in ways.items():
                if w == "shm":
                    regions["in"].buf[:n] = data[n]
                    regions["out"].buf[:n] = bytes(n)
                t0 = time.perf_counter()
                r, answer = c.post(f"/v2/models/{m}/infer", way.body, way.headers)
                first_s[(m, w, n)] = time.perf_counter() - t0
                parse_s[(w, n)] = way.check(r, answer, data[n])
        for _ in range(a.rounds):
            for n in SIZES:
                for m in models:
                    for w in ("json", "binary", "shm"):
                        if (w, n) not in ways:
                            continue
                        way = ways[(w, n)]
                        k = max(1, min(200, int(a.seconds_per_round / first_s[(m, w, n)])))
                        if w == "shm":
                            regions["in"].buf[:n] = data[n]
                        for _ in range(k):
                            t0 = time.perf_counter()
                            c.post(f"/v2/models/{m}/infer", way.body, way.headers, phases[(m, w, n)])
                            samples[(m, w, n)].append(time.perf_counter() - t0)
    finally:
        for name, shm in regions.items():
            try:
                c.post(f"/v2/systemsharedmemory/region/{name}/unregister", b"{}")
            except Exception:  # the server may be gone: the object is still ours to remove
                pass
            shm.close()
            shm.unlink()

    results = []
    for (m, w, n), xs in samples.items():
        med = statistics.median(xs)
        xs_sorted = sorted(xs)
        ph = [statistics.median(p[i] for p in phases[(m, w, n)]) * 1e3 for i in range(3)]
        results.append({
            "model": m, "way": w, "bytes": n, "requests": len(xs),
            "median_ms": med * 1e3, "min_ms": xs_sorted[0] * 1e3,
            "p90_ms": xs_sorted[min(len(xs) - 1, int(0.9 * len(xs)))] * 1e3,
            "gib_s": n / med / (1 << 30), "request_bytes": len(ways[(w, n)].body),
            "send_ms": ph[0], "until_headers_ms": ph[1], "read_answer_ms": ph[2],
            "client_build_ms": ways[(w, n)].build_s * 1e3, "client_parse_ms": parse_s[(w, n)] * 1e3,
        })
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": a.rounds, "results": results}, f, indent=1)

    by = {(r["model"], r["way"], r["bytes"]): r for r in results}
    print(f"rounds: {a.rounds}; latency = send the prebuilt body + read the whole answer "
          "(Python http.client, one keep-alive connection); GiB/s = tensor bytes / median")
    print()
    print("| size | way | request body | " + " | ".join(f"{m}: median (min / p90)" for m in models) + " | "
          + " | ".join(f"{m} GiB/s" for m in models) + " | "
          + " | ".join(f"{m}: send / until headers / read answer" for m in models)
          + " | client build / parse (untimed) |")
    print("|---|---|---|" + "---|" * (3 * len(models)) + "---|")
    for n in SIZES:
        for w in ("json", "binary", "shm"):
            if (w, n) not in ways:
                continue
            rs = [by[(m, w, n)] for m in models]
            lat = " | ".join(f"{r['median_ms']:.3f} ms ({r['min_ms']:.3f} / {r['p90_ms']:.3f})" for r in rs)
            bw = " | ".join(f"{r['gib_s']:.2f}" for r in rs)
            ph = " | ".join(f"{r['send_ms']:.2f} / {r['until_headers_ms']:.2f} / {r['read_answer_ms']:.2f} ms"
                            for r in rs)
            print(f"| {size_name(n)} | {w} | {rs[0]['request_bytes']:,} B | {lat} | {bw} | {ph} | "
                  f"{rs[0]['client_build_ms']:.1f} / {rs[0]['client_parse_ms']:.1f} ms |")
    print(f"\nJSON stops at {size_name(JSON_MAX)}: 100 MiB of UINT8 as JSON is ~370 MB of text in "
          "each direction, and the server holds it parsed as one value per element.")


if __name__ == "__main__":
    sys.exit(main())
