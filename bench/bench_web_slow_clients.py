"""Slow and hostile clients against `ptcheck serve` (issue 19): does the server stay answerable?

    .venv/bin/python bench/bench_web_slow_clients.py [--slow 200] [--seconds 15]

Runs the app on uvicorn with `ptcheck serve`'s options (engine/web/_server.py) in this process, on a
loopback port, then, all at once and bounded in time:
  * --slow sockets send a request's headers one byte a second (slowloris);
  * one client posts a case of 17,000 items to /v1/check;
  * one client posts a chunked body of up to 200 MiB to /v1/check (over the 1 MiB limit);
  * a normal /v1/check of seed-001 is sent every second.
Prints how many slow sockets the server had closed after HEADER_TIMEOUT + 2 s, how long the 17,000-item
case took to be refused, how many bytes the oversized upload got to send before the server closed it, and
the latency of the normal checks; then the machine. Traffic goes to 127.0.0.1 only and stops by itself.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine_line  # noqa: E402

from tests.web_server import post, running_server  # noqa: E402


def _slow_socket(addr, stop: threading.Event, closed: list) -> None:
    try:
        s = socket.create_connection(addr, timeout=2)
    except OSError:
        closed.append(0.0)
        return
    start = time.monotonic()
    header = b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\nX-Slow: " + b"a" * 4096
    try:
        for byte in header:
            if stop.is_set():
                return
            s.sendall(bytes([byte]))
            s.settimeout(1.0)
            try:
                if s.recv(1) == b"":
                    closed.append(time.monotonic() - start)
                    return
            except TimeoutError:
                pass
    except OSError:
        closed.append(time.monotonic() - start)
    finally:
        s.close()


def _big_upload(addr, result: dict) -> None:
    s = socket.create_connection(addr, timeout=10)
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk, sent = b"#" * 65536, 0
    try:
        while sent < 200 * 2 ** 20:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:
        pass
    result["sent"] = sent
    s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slow", type=int, default=200, help="slow sockets (default 200)")
    ap.add_argument("--seconds", type=float, default=15.0, help="how long the normal checks go on (default 15)")
    args = ap.parse_args()
    from ptcheck.web._server import HEADER_TIMEOUT, MAX_CONNECTIONS
    seed = (ROOT / "cases/seeds/seed-001.yaml").read_bytes()
    big = json.dumps({"id": "big", "jurisdiction": "CA", "requests": [
        {"id": str(i), "service": "physical_therapy", "visits": 6} for i in range(17_000)]}).encode()
    with running_server() as addr:
        stop, closed, upload, refused = threading.Event(), [], {}, {}
        slow = [threading.Thread(target=_slow_socket, args=(addr, stop, closed), daemon=True) for _ in range(args.slow)]
        for t in slow:
            t.start()

        def send_big():
            t0 = time.perf_counter()
            refused["status"] = post(addr, "/v1/check", big, "application/json")[0]
            refused["seconds"] = time.perf_counter() - t0
        extra = [threading.Thread(target=send_big), threading.Thread(target=_big_upload, args=(addr, upload))]
        for t in extra:
            t.start()
        latencies, statuses, end = [], [], time.monotonic() + args.seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            try:
                status = post(addr, "/v1/check", seed, timeout=30)[0]
            except OSError as e:
                status = type(e).__name__
            latencies.append(time.perf_counter() - t0)
            statuses.append(status)
            time.sleep(max(0.0, 1.0 - latencies[-1]))
        closed_in_time = sum(1 for c in closed if c <= HEADER_TIMEOUT + 2)
        stop.set()
        for t in extra + slow:
            t.join(30)
    print(f"slow-header sockets: {args.slow}; closed by the server within {HEADER_TIMEOUT + 2:.0f} s: {closed_in_time} "
          f"(header timeout {HEADER_TIMEOUT:.0f} s, connection limit {MAX_CONNECTIONS})")
    print(f"17,000-item case: HTTP {refused.get('status')} in {refused.get('seconds', float('nan')):.2f} s")
    print(f"oversized chunked upload: {upload.get('sent', 0) / 2 ** 20:.1f} MiB sent before the server closed it "
          "(the client meant to send 200 MiB)")
    ok = sum(1 for s in statuses if s == 200)
    print(f"normal checks meanwhile: {ok}/{len(statuses)} answered 200 ({sorted(set(map(str, statuses)))}); latency "
          f"median {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s")
    print(machine_line())


if __name__ == "__main__":
    main()
