"""1,000,000 synthetic cases through the audit path (the code `ptcheck audit` runs: worker processes, crash
isolation, checkpoints): peak RSS sampled at every 10%, and a leakage probe.

    python bench/bench_million.py                       # 1,000,000 cases, all CPUs
    python bench/bench_million.py --cases 50000 --jobs 2 --checkpoint /tmp/a.ckpt

The probe: one fixed case is placed at every 10% of the input; the worker that meets it writes its
decision (full explanation, JSON) to a file. Every copy must be byte-identical: no state leaks from one
case to the next. RSS is read from /proc for the parent and every worker at each 10% mark. The cases are
those of bench_audit.py (same generator and seed); a case that crashes the engine is an error entry.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PTCHECK_RULES", str(ROOT / "rules"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_audit import machine, make_case, rss_mb  # noqa: E402

from ptcheck import Checker  # noqa: E402
from ptcheck.audit._audit import audit  # noqa: E402
from ptcheck.core._render import to_json  # noqa: E402

PROBE = {"id": "probe", "jurisdiction": "CA", "review": {"kind": "imr", "date": "2015-03-02"},
         "diagnoses": [{"icd9": "847.2"}, {"icd10": "M54.16"}],
         "requests": [{"id": "1", "service": "physical_therapy", "text": "PT 2x6 lumbar", "body_regions": ["lumbar"],
                       "actual": "overturned"},
                      {"id": "2", "service": "chiropractic", "body_regions": ["lumbar"], "visits": 6}],
         "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 10}],
                     "documentation": {"functional_improvement": True}}}


class ProbeChecker(Checker):
    """The real Checker; on the probe case it also writes the full decision JSON to PROBE_DIR."""

    def check(self, case, *, explain=True):
        d = super().check(case, explain=explain)
        if case.id == "probe" and explain:
            out = Path(os.environ["PROBE_DIR"]) / f"{time.time_ns()}-{os.getpid()}.json"
            out.write_text(to_json(d), encoding="utf-8")
        return d


def write_input(path: Path, n: int, seed: int = 5) -> int:
    import random
    rng = random.Random(seed)
    probe = json.dumps(PROBE, separators=(",", ":")) + "\n"
    size = 0
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if i % (n // 10 or 1) == 0:
                fh.write(probe)
            line = json.dumps(make_case(rng, i), separators=(",", ":")) + "\n"
            size += len(line)
            fh.write(line)
        fh.write(probe)
    return size


def children_rss() -> list[float]:
    me = os.getpid()
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                    out.append(rss_mb(d.name))
            except (OSError, ValueError, IndexError):
                pass
    return sorted(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--keep", type=int, default=1000, help="list at most K disagreements/errors (counts exact)")
    ap.add_argument("--checkpoint", type=Path, default=None, help="also write a checkpoint as ptcheck audit does")
    args = ap.parse_args(argv)
    m = machine()
    jobs = min(args.jobs or m["nproc"], m["nproc"])
    print(f"machine: nproc {m['nproc']}, CPU {m['cpu']}, Python {m['python']}, {m['platform']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ptcheck-million-") as d:
        tmp = Path(d)
        os.environ["PROBE_DIR"] = str(tmp / "probes")
        (tmp / "probes").mkdir()
        path = tmp / "cases.jsonl"
        t = time.perf_counter()
        size = write_input(path, args.cases)
        total = args.cases + 11
        print(f"generated {args.cases:,} cases + 11 probes ({size / 2**20:.0f} MB) in {time.perf_counter() - t:.0f} s",
              flush=True)
        marks = [total * k // 10 for k in range(1, 11)]
        print(f"{'cases':>10} {'elapsed s':>10} {'cases/s':>8} {'parent RSS MB':>14} {'worker RSS MB':>20}", flush=True)
        start = time.perf_counter()

        def progress(done: int, _total) -> None:
            while marks and done >= marks[0]:
                marks.pop(0)
                el = time.perf_counter() - start
                kids = children_rss()
                print(f"{done:>10,} {el:>10.0f} {done / el:>8,.0f} {rss_mb():>14.1f} "
                      f"{' '.join(f'{k:.1f}' for k in kids):>20}", flush=True)
        if args.checkpoint and args.checkpoint.exists():
            args.checkpoint.unlink()
        report = audit([path], jobs=jobs, progress=progress, max_listed=args.keep, in_process=False,
                       checker_factory=ProbeChecker, checkpoint=args.checkpoint)
        el = time.perf_counter() - start
        probes = sorted((tmp / "probes").iterdir())
        texts = {p.read_bytes() for p in probes}
        print(f"audited {report.cases:,} cases in {el:.0f} s ({report.cases / el:,.0f}/s, jobs {jobs}): "
              f"{report.items:,} items, {report.disagreement_count:,} disagreements, {report.error_count:,} errors")
        crashed = sum(1 for e in report.errors if any("crashed" in m for m in e.messages))
        print(f"errors kept in the list: {len(report.errors)}, of which engine crashes isolated: {crashed}")
        print(f"probe: {len(probes)} copies checked, {len(texts)} distinct JSON text(s) -> "
              f"{'byte-identical' if len(texts) == 1 else 'DIFFERENT: state leaks between cases'}")


if __name__ == "__main__":
    main()
