"""`ptcheck audit --cluster local:2` beside `ptcheck audit --jobs 2`: cases/s of each on the same synthetic cases
(fresh processes, start-up included; the cluster's start included too), the reports compared (the same apart
from provenance), and the core-hours 50 million cases would take at the cluster's rate.

    .venv/bin/python bench/bench_cluster.py --cases 20000 --runs 3      # needs ptcheck[cluster]

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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="median of this many runs of each (default 3)")
    ap.add_argument("--agree", type=float, default=0.17)
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
