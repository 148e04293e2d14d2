"""Where an audited case's time goes, counted: evaluations of its items (each variant of an item's facts
that Evaluator.evaluate is given: the facts as given, each reading of what the records leave unknown, each
"what would change the answer" variant) and durable_rules sessions (Registered.run: one per class of
variants and rule set), with the time inside the sessions, for an in-process audit of bench_audit.py's
cases (1 item each, ~half disagreeing, as `--cli`).

    python bench/bench_sessions.py                 # 5,000 cases
    python bench/bench_sessions.py --cases 20000
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine_line  # noqa: E402
from bench_audit import audit, set_agreement, write_cases  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--max-listed", type=int, default=1000, help="as `ptcheck audit --max-listed` (default 1000)")
    args = ap.parse_args(argv)
    import ptcheck.core._check as check_mod
    import ptcheck.core._evaluate as evaluate_mod
    from ptcheck.core._durable import Registered
    print("machine:", machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.jsonl"
        write_cases(path, args.cases, items=1)
        set_agreement(path, 0.17)
        count: collections.Counter = collections.Counter()
        run, evaluate = Registered.run, evaluate_mod.Evaluator.evaluate
        explaining = False

        def timed_run(self, *a, **k):
            count["sessions"] += 1
            t = time.perf_counter()
            try:
                return run(self, *a, **k)
            finally:
                count["session_s"] += time.perf_counter() - t

        def counted_evaluate(self, plan, variants, *a, **k):
            count["evaluations"] += len(variants)
            count["explaining" if explaining else "deciding"] += len(variants)
            return evaluate(self, plan, variants, *a, **k)
        would_change = check_mod.Checker._would_change

        def counted_would_change(self, *a, **k):
            nonlocal explaining
            explaining = True
            try:
                return would_change(self, *a, **k)
            finally:
                explaining = False
        Registered.run, evaluate_mod.Evaluator.evaluate = timed_run, counted_evaluate
        check_mod.Checker._would_change = counted_would_change
        t = time.perf_counter()
        report = audit([path], jobs=1, max_listed=args.max_listed)
        elapsed = time.perf_counter() - t
    n = report.cases
    sessions = max(1, count["sessions"])
    print(f"{n:,} cases in {elapsed:.1f} s ({n / elapsed:,.0f} cases/s, {1e6 * elapsed / n:,.0f} us per case); per case "
          f"{count['evaluations'] / n:.1f} evaluations (variants of an item's facts), {count['sessions'] / n:.2f} durable "
          f"sessions of {1e6 * count['session_s'] / sessions:.0f} us each ({100 * count['session_s'] / elapsed:.0f}% of "
          f"the time)")
    per_case = count["sessions"] / n
    print(f"evaluations per case: {count['deciding'] / n:.1f} deciding the item (the facts as given and each reading "
          f"of the unknowns), {count['explaining'] / n:.1f} for \"what would change the answer\" (listed disagreements); "
          f"--max-listed {args.max_listed}")
    print(f"floor at {FLOOR_US} us of durable_rules per session (batched, no Python at all): "
          f"{per_case * FLOOR_US:.0f} us per case, at most {1e6 / max(1e-9, per_case * FLOOR_US):,.0f} cases/s per core")


FLOOR_US = 20


if __name__ == "__main__":
    main()
