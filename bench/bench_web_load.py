"""Bounded load test of `ptcheck serve` on loopback: N concurrent clients for T seconds, each sending
different cases (every case file under cases/), every answer compared byte for byte with the single-case
answer of the library (what `ptcheck check FILE --json` prints), so that any cross-talk between
concurrent requests shows as a mismatch.

    python bench/bench_web_load.py                      # 50 clients, 30 s, starts its own server
    python bench/bench_web_load.py --clients 50 --seconds 30 --url http://127.0.0.1:8000

Only 127.0.0.1 is accepted. Exit code 1 when any request failed or any answer differed.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine_line  # noqa: E402


def expected_answers() -> list[tuple[str, bytes, bytes]]:
    """(name, body, expected answer) for every case file under cases/ with one valid case: the library's
    single-case answer, as `ptcheck check FILE --json` prints it (to_json + newline)."""
    from ptcheck import Checker, load_text, to_json
    checker = Checker()
    out = []
    for f in sorted((ROOT / "cases").rglob("*.yaml")):
        body = f.read_bytes()
        docs = list(load_text(body, str(f)))
        if len(docs) != 1 or not docs[0].ok:
            continue
        out.append((str(f.relative_to(ROOT)), body, (to_json(checker.check(docs[0].case)) + "\n").encode()))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ptcheck.cli", "serve", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PTCHECK_LOG": "WARNING"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/v1/schema/case")
            if c.getresponse().status == 200:
                c.close()
                return proc, url
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
    proc.terminate()
    raise SystemExit("the server did not start within 90 s")


def client(host: str, port: int, cases: list, start: int, stop_at: float, results: list, lock: threading.Lock):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    lat, failures, mismatches, i = [], [], [], start
    while time.monotonic() < stop_at:
        name, body, expected = cases[i % len(cases)]
        i += 1
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/check", body=body, headers={"content-type": "application/yaml"})
            r = conn.getresponse()
            got = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            failures.append(f"{name}: {type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
            continue
        lat.append(time.perf_counter() - t0)
        if status != 200:
            failures.append(f"{name}: HTTP {status}")
        elif got != expected:
            mismatches.append(name)
    conn.close()
    with lock:
        results.append((lat, failures, mismatches))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--url", help="a running server on 127.0.0.1 (default: start one)")
    a = ap.parse_args()
    if not 1 <= a.clients <= 200 or not 0 < a.seconds <= 600:
        raise SystemExit("--clients 1..200, --seconds up to 600 (a bounded test)")

    cases = expected_answers()
    proc = None
    url = a.url
    if url is None:
        proc, url = start_server()
    u = urllib.parse.urlsplit(url)
    if u.hostname != "127.0.0.1":
        raise SystemExit("loopback only: the URL must be http://127.0.0.1:PORT")
    try:
        results: list = []
        lock = threading.Lock()
        t0 = time.monotonic()
        stop_at = t0 + a.seconds
        threads = [threading.Thread(target=client, args=(u.hostname, u.port, cases, k * 7, stop_at, results, lock))
                   for k in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)

    lat = sorted(x for r in results for x in r[0])
    failures = [x for r in results for x in r[1]]
    mismatches = [x for r in results for x in r[2]]
    n = len(lat)
    q = statistics.quantiles(lat, n=100) if n >= 2 else [float("nan")] * 99
    print("machine:", machine_line())
    print(f"{a.clients} clients x {a.seconds:.0f} s, {len(cases)} different cases (cases/**/*.yaml), POST /v1/check")
    print(f"requests answered: {n}, failed: {len(failures)}, answers differing from the library's: {len(mismatches)}")
    print(f"throughput: {n / elapsed:.1f} requests/s")
    print(f"latency: p50 {1000 * q[49]:.1f} ms, p99 {1000 * q[98]:.1f} ms, max {1000 * lat[-1]:.1f} ms" if n else "")
    for x in (failures + mismatches)[:10]:
        print("  ", x)
    return 1 if failures or mismatches or not n else 0


if __name__ == "__main__":
    sys.exit(main())
