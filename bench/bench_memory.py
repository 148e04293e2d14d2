"""Peak memory of `ptcheck audit FILE --json > OUT` (every disagreement listed, the CLI's default) for several
input sizes: the resident memory of the whole process tree (the parent and its workers, summed) sampled
from /proc every 0.2 s, and each process's own peak. Issue 10: the peak for 1,000,000 cases within 10% of
the peak for 50,000.

    python bench/bench_memory.py                          # 50,000 and 1,000,000 cases, all cores
    python bench/bench_memory.py --sizes 2000 20000 --jobs 2

The cases are bench_audit.py's (same generator and seed, 1 item each) with their random actual outcomes
(about 60% of the items disagree, so about 600,000 disagreements are listed for 1,000,000 cases: the
listing is what grows if anything does). The JSON written is checked to be complete (its counts).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine_line  # noqa: E402
from bench_audit import rss_mb, write_cases  # noqa: E402


def _tree(pid: int) -> list[int]:
    """pid and its descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _summary(path: Path) -> dict:
    """The top-level counts of a report written by `ptcheck audit --json`, and how many disagreements it
    lists, read line by line (indent 2: each listed disagreement opens with a line of 4 spaces and "{")."""
    out: dict = {"listed": 0}
    inside = False
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith('  "') and not inside:
                key, _, value = line.strip().rstrip(",").partition(": ")
                if value.isdigit():
                    out[json.loads(key)] = int(value)
                inside = line.startswith('  "disagreements": [') and not line.rstrip().endswith("[]")
            elif inside and line.startswith("  ]"):
                inside = False
            elif inside and line.rstrip("\n") == "    {":
                out["listed"] += 1
    return out


def measure(path: Path, jobs: int, out: Path) -> dict:
    cmd = [sys.executable, "-c", "from ptcheck.cli import main; main()", "audit", str(path), "--jobs", str(jobs),
           "--json"]
    t = time.perf_counter()
    with out.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.PIPE)
        peak_total, peak_each = 0.0, {}
        while proc.poll() is None:
            pids = _tree(proc.pid)
            sizes = {p: rss_mb(p) for p in pids}
            peak_total = max(peak_total, sum(sizes.values()))
            for p, mb in sizes.items():
                peak_each[p] = max(peak_each.get(p, 0.0), mb)
            time.sleep(0.2)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ptcheck audit failed ({proc.returncode}): {stderr[-2000:]}")
    report = _summary(out)
    assert report["listed"] == report["disagreement_count"], "the JSON lists every disagreement"
    parent = peak_each.get(proc.pid, 0.0)
    workers = sorted((mb for p, mb in peak_each.items() if p != proc.pid), reverse=True)
    return {"cases": report["cases"], "disagreements": report["disagreement_count"], "seconds": elapsed,
            "peak_total_mb": peak_total, "peak_parent_mb": parent, "peak_worker_mb": workers[0] if workers else 0.0,
            "json_mb": out.stat().st_size / 2**20}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 1_000_000], help="numbers of cases")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the inputs and outputs (default: a temp dir)")
    args = ap.parse_args(argv)
    print("machine:", machine_line())
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        rows = []
        for n in args.sizes:
            path = Path(tmp) / f"cases-{n}.jsonl"
            size = write_cases(path, n, items=1)
            r = measure(path, args.jobs, Path(tmp) / f"report-{n}.json")
            path.unlink()
            rows.append(r)
            print(f"{r['cases']:>10,} cases ({size / 2**20:.0f} MB in, {r['json_mb']:.0f} MB JSON out, "
                  f"{r['disagreements']:,} disagreements listed) in {r['seconds']:.0f} s: peak RSS of the tree "
                  f"{r['peak_total_mb']:.0f} MB (parent {r['peak_parent_mb']:.0f} MB, largest worker "
                  f"{r['peak_worker_mb']:.0f} MB)", flush=True)
        if len(rows) > 1:
            base, last = rows[0], rows[-1]
            print(f"peak RSS at {last['cases']:,} cases / at {base['cases']:,}: "
                  f"{last['peak_total_mb'] / base['peak_total_mb']:.3f} (issue 10: at most 1.10)")


if __name__ == "__main__":
    main()
