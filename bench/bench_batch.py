"""One process, many cases: memory must stay flat and no case may leak into another.

    python bench/bench_batch.py --cases 100000

Streams N synthetic cases (CA and TX, several services, regions, diagnoses, prior visits, surgeries)
through one Checker. Every 10% it samples RSS and re-checks a fixed probe case, whose JSON decision must
be byte-identical to the first one (no state carried between cases). Exit 1 on leakage or on RSS growth
above --max-growth-mb after warm-up.
"""
from __future__ import annotations

import argparse
import platform
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine  # noqa: E402

from ptcheck import Checker, to_json, validate_case  # noqa: E402

SERVICES = ["physical_therapy", "physical_therapy", "occupational_therapy", "home_exercise_kit", "office_visit",
            "medication", "chiropractic", "acupuncture"]
DX = [{"icd9": "729.1"}, {"icd10": "M54.16"}, {"icd10": "S33.5XXA"}, {"icd10": "S13.4XXA"}, {"icd9": "722.10"},
      {"icd10": "M54.50"}, {"icd10": "M75.41"}, {"icd10": "S83.241A"}, {"text": "low back pain"},
      {"icd9": "337.21"}]
REGIONS = ["lumbar", "cervical", "shoulder", "knee"]


def synthetic(i: int, rnd: random.Random) -> dict:
    service = rnd.choice(SERVICES)
    req = {"id": "1", "service": service, "body_regions": [rnd.choice(REGIONS)]}
    if service == "medication":
        req.update(drug=rnd.choice(["Soma", "Norco", "ibuprofen"]), quantity=60)
    elif service == "office_visit":
        req.update(purpose="repeat_epidural_steroid_injection")
    elif service != "home_exercise_kit":
        req.update(visits=rnd.choice([4, 6, 8, 12, 16]))
    therapy = [] if rnd.random() < 0.3 else [{"service": "physical_therapy", "body_regions": req["body_regions"],
                                             **({} if rnd.random() < 0.2 else {"visits_completed": rnd.randint(0, 30)})}]
    history = {"therapy": therapy, "documentation": {
        "functional_improvement": rnd.choice([True, False, None]),
        "equipment_described": rnd.choice([True, None])}}
    if rnd.random() < 0.2:
        history["surgeries"] = [{"kind": rnd.choice(["discectomy_laminectomy", "meniscectomy", "fusion"]),
                                 "region": req["body_regions"][0], "date": f"2014-0{rnd.randint(1, 6)}-15"}]
    if service == "office_visit":
        history["injections"] = [{"kind": "epidural_steroid", "region": "lumbar",
                                  **({"pain_relief_percent": rnd.choice([30, 60, 80]), "relief_weeks": rnd.choice([2, 7])}
                                     if rnd.random() < 0.7 else {})}]
    return {"id": f"syn-{i}", "jurisdiction": rnd.choice(["CA", "TX"]),
            "review": {"kind": rnd.choice(["ur", "imr", "iro"]), "date": "2014-07-01"},
            "injury_date": "2012-03-01", "diagnoses": [rnd.choice(DX)], "requests": [req], "history": history}


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--max-growth-mb", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    checker = Checker()
    probe = validate_case(synthetic(-1, random.Random(1))).case
    probe_json = to_json(checker.check(probe))
    step = max(1, args.cases // 10)
    samples, leaks, outcomes = [], 0, {}
    t0 = time.perf_counter()
    base = None
    for i in range(args.cases):
        loaded = validate_case(synthetic(i, rnd))
        d = checker.check(loaded.case)
        for it in d.items:
            outcomes[it.outcome] = outcomes.get(it.outcome, 0) + 1
        if (i + 1) % step == 0:
            if to_json(checker.check(probe)) != probe_json:
                leaks += 1
            samples.append((i + 1, rss_mb(), time.perf_counter() - t0))
            if base is None:
                base = samples[-1][1]
    elapsed = time.perf_counter() - t0
    m = machine()
    print(f"machine: {platform.machine()}, {m['cpu_count']} x {m['cpu']}, Python {platform.python_version()}")
    print(f"{args.cases} cases in {elapsed:.1f} s = {args.cases / elapsed:,.0f} cases/s (one process, validation + facts + rules + decision)")
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print("cases   RSS MB   seconds")
    for n, mb, s in samples:
        print(f"{n:>7} {mb:>8.1f} {s:>9.1f}")
    growth = samples[-1][1] - base if samples else 0.0
    print(f"RSS growth after the first 10%: {growth:+.1f} MB; probe decision changed {leaks} time(s)")
    return 1 if leaks or growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
