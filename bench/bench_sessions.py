"""Where an audited case's time goes, counted: evaluations of its items (Checker._evaluate: the facts as
given, each reading of what the records leave unknown, each "what would change the answer" decision) and
durable_rules sessions (Registered.run), with the time inside the sessions, for an in-process audit of
bench_audit.py's cases (1 item each, ~half disagreeing, as `--cli`).

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
    args = ap.parse_args(argv)
    import ptcheck.core._check as check_mod
    from ptcheck.core._durable import Registered
    print("machine:", machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.jsonl"
        write_cases(path, args.cases, items=1)
        set_agreement(path, 0.17)
        count: collections.Counter = collections.Counter()
        run, evaluate = Registered.run, check_mod.Checker._evaluate

        def timed_run(self, *a, **k):
            count["sessions"] += 1
            t = time.perf_counter()
            try:
                return run(self, *a, **k)
            finally:
                count["session_s"] += time.perf_counter() - t

        def counted_evaluate(self, *a, **k):
            count["evaluations"] += 1
            count["explaining" if explaining else "deciding"] += 1
            return evaluate(self, *a, **k)
        explaining = False
        would_change = check_mod.Checker._would_change

        def counted_would_change(self, *a, **k):
            nonlocal explaining
            explaining = True
            try:
                return would_change(self, *a, **k)
            finally:
                explaining = False
        Registered.run, check_mod.Checker._evaluate = timed_run, counted_evaluate
        check_mod.Checker._would_change = counted_would_change
        t = time.perf_counter()
        report = audit([path], jobs=1)
        elapsed = time.perf_counter() - t
    n = report.cases
    print(f"{n:,} cases in {elapsed:.1f} s ({n / elapsed:,.0f} cases/s, {1e6 * elapsed / n:,.0f} us per case); per case "
          f"{count['evaluations'] / n:.1f} evaluations, {count['sessions'] / n:.1f} durable sessions of "
          f"{1e6 * count['session_s'] / count['sessions']:.0f} us each ({100 * count['session_s'] / elapsed:.0f}% of the time)")
    per_case = count["evaluations"] / n
    print(f"evaluations per case: {count['deciding'] / n:.1f} deciding the item (the facts as given and each reading "
          f"of the unknowns), {count['explaining'] / n:.1f} for \"what would change the answer\" (disagreeing items)")
    # A floor whatever the Python around it: every evaluation is at least one match of the item's facts in
    # durable_rules, and issue 10 measured the cheapest such match, many items batched in one session under
    # per-item join keys, at 20-24 us per item on this machine.
    print(f"floor at {FLOOR_US} us of durable_rules per evaluation (batched, no Python at all): "
          f"{per_case * FLOOR_US:.0f} us per case, at most {1e6 / (per_case * FLOOR_US):,.0f} cases/s per core "
          f"(issue 10's targets: 13,000 on one core, 25,000 on two)")


FLOOR_US = 20


if __name__ == "__main__":
    main()
