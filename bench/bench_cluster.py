"""`ptcheck audit --cluster local:2` beside `ptcheck audit --jobs 2`: cases/s of each on the same synthetic cases
(fresh processes, start-up included; the cluster's start included too), the reports compared (the same apart
from provenance), and the core-hours 50 million cases would take at the cluster's rate.

    .venv/bin/python bench/bench_cluster.py --cases 20000 --runs 3      # needs ptcheck[cluster]
    .venv/bin/python bench/bench_cluster.py --cases 4000 --per-task      # CPU a case costs inside a task

--per-task: the CPU the worker processes of a local 2-worker cluster spend per case (their Checker built
before, no disagreement explained: the per-case cost alone), with Dask's profiler on and off, beside the same
partitions run in this process; each three times (the first includes compiling rule sets).

The cases are bench_audit.py's (1 item each, --agree 0.17 as README's audit figures), --max-listed 1000 (the
default). Prints the machine first.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine_line  # noqa: E402
from bench_audit import set_agreement, write_cases  # noqa: E402

TARGET_CASES = 50_000_000


def run(path: Path, args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the command and its processes (its workers are waited for, so counted), and a
    digest of its JSON without provenance."""
    before = os.times()
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "ptcheck.cli", "audit", str(path), "--json", *args],
                       capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = os.times()
    if r.returncode not in (0, 1):
        raise SystemExit(f"ptcheck audit {' '.join(args)} failed ({r.returncode}): {r.stderr[-500:]}")
    doc = json.loads(r.stdout)
    doc.pop("provenance", None)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def per_task(path: Path, runs: int = 3) -> None:
    import logging

    import dask
    from distributed import Client, LocalCluster, wait

    from ptcheck.audit._cluster import MALLOC_TRIM_THRESHOLD, _checker, partitions, run_partition
    rules = os.environ.get("PTCHECK_RULES") or str(ROOT / "rules")
    parts = list(partitions([path], 64 * 1024))
    n = sum(1 for line in path.open("rb") if line.strip())
    for profiler in (True, False):
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": MALLOC_TRIM_THRESHOLD,
                              "distributed.worker.profile.enabled": profiler}):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
        client.run(lambda: _checker(rules, ()) and None)
        out = []
        with tempfile.TemporaryDirectory() as folder:
            for _ in range(runs):
                before = client.run(time.process_time)
                wait([client.submit(run_partition, k, p, rules, (), 0, 0, folder, pure=False) for k, p in enumerate(parts)])
                after = client.run(time.process_time)
                out.append(sum(after[w] - before[w] for w in after) / n * 1e3)
        client.close()
        cluster.close()
        print(f"  Dask workers, profiler {'on ' if profiler else 'off'}: " + ", ".join(f"{x:.2f}" for x in out)
              + " ms of CPU a case", flush=True)
    _checker(rules, ())
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):
            c = time.process_time()
            for k, p in enumerate(parts):
                run_partition(k, p, rules, (), 0, 0, folder)
            out.append((time.process_time() - c) / n * 1e3)
    print("  this process:               " + ", ".join(f"{x:.2f}" for x in out) + " ms of CPU a case")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="median of this many runs of each (default 3)")
    ap.add_argument("--agree", type=float, default=0.17)
    ap.add_argument("--per-task", action="store_true", help="the CPU a case costs inside a task (see above)")
    args = ap.parse_args(argv)
    print(machine_line(), flush=True)
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise SystemExit("bench_cluster needs the cluster extra: pip install -e '.[cluster]'") from None
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        path = Path(tmp) / "cases.jsonl"
        write_cases(path, args.cases, items=1)
        set_agreement(path, args.agree)
        if args.per_task:
            per_task(path)
            return
        rows = {}
        for name, extra in ((f"--jobs {args.workers}", ["--jobs", str(args.workers)]),
                            (f"--cluster local:{args.workers}", ["--cluster", f"local:{args.workers}",
                                                                 "--disagreements-dir", str(Path(tmp) / "d")])):
            walls, cpus, digests = [], [], set()
            for _ in range(args.runs):
                w, c, d = run(path, extra)
                walls.append(w)
                cpus.append(c)
                digests.add(d)
            rows[name] = (statistics.median(walls), statistics.median(cpus), digests)
            print(f"{name:>20}: {args.cases / rows[name][0]:8.0f} cases/s  (median wall {rows[name][0]:.1f} s, "
                  f"CPU {rows[name][1]:.1f} s, {args.runs} runs)", flush=True)
        (jw, jcpu, jd), (cw, ccpu, cd) = rows.values()
        same = "the same report" if jd == cd and len(jd) == 1 else f"DIFFERENT reports ({jd} vs {cd})"
        print(f"cluster / jobs: {jw / cw:.2f}x the cases/s, {jcpu / ccpu:.2f}x the CPU per case ({same}, apart "
              "from provenance)")
        per_case = ccpu / args.cases            # core-seconds a case on the cluster (CPU time: others may share)
        print(f"projection: {TARGET_CASES:,} cases x {per_case * 1e3:.2f} ms of CPU = "
              f"{TARGET_CASES * per_case / 3600:,.0f} core-hours ({TARGET_CASES * per_case / 3600 / 64:,.1f} h on "
              f"64 cores), at this machine's per-core speed")

if __name__ == "__main__":
    main()
