"""Benchmark of `ptcheck audit`: end-to-end cases/s with 1 and all cores, the raw durable_rules rate,
peak RSS; and a memory-flatness mode.

    python bench/bench_audit.py                     # 20,000 synthetic cases
    python bench/bench_audit.py --cases 5000 --jobs 2
    python bench/bench_audit.py --memory 1000000    # stream 1M cases, RSS sampled every 10%
    python bench/bench_audit.py --cases 2000 --profile   # where the time goes (cProfile, jobs 1)
    python bench/bench_audit.py --cli --cases 50000 --items 1 --agree 0.17 --runs 3
        # issue 10's figure: the `ptcheck audit` command end to end (a fresh process per run, start-up
        # included) with --jobs N and --jobs 1, median of 3 runs, each also as a multiple of the time
        # json.loads takes over the same file in the same run; ~1 item per case, ~half disagreeing

End to end = reading the JSONL, validation (pydantic), fact derivation, the rules (durable_rules),
explanations and the report tallies. The raw durable rate replays the exact Registered.run(facts)
calls that the audit made (facts derived beforehand), timing only those calls.
Synthetic cases are varied (CA/TX, UR/IMR/IRO, services, regions, diagnoses with ICD-9/ICD-10 codes,
prior therapy, surgeries, injections, documentation flags) and carry random `actual` outcomes; the
seed is fixed, so every run audits the same cases.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PTCHECK_RULES", str(ROOT / "rules"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))           # also when loaded from a file path (tests/test_hot_path.py)

from _machine import machine  # noqa: E402,F401  (bench_million imports it from here)

from ptcheck.audit._audit import audit  # noqa: E402

# ---------------------------------------------------------------------------------------------
# synthetic cases

REGION_DX = {   # region -> (icd9 codes, icd10 codes, texts)
    "lumbar": (["847.2", "724.2", "722.10", "724.4"], ["S33.5XXA", "M54.16", "M51.26", "M54.50"],
               ["lumbar sprain/strain", "low back pain", "lumbar disc herniation", "lumbar radiculitis"]),
    "cervical": (["847.0", "723.1"], ["S13.4XXA", "M54.2"], ["cervical sprain", "neck pain"]),
    "shoulder": (["840.9", "726.10"], ["S46.011A", "M75.100"], ["shoulder sprain", "rotator cuff syndrome"]),
    "knee": (["844.9", "719.46"], ["S83.90XA", "M25.561"], ["knee sprain", "knee pain"]),
    "thoracic": (["729.1"], ["M79.18"], ["myalgia", "thoracic myofascial pain"]),
}
SERVICES = ["physical_therapy"] * 10 + ["occupational_therapy"] * 2 + ["chiropractic", "acupuncture",
            "massage", "home_exercise_kit", "medication", "office_visit"]
SURGERY = {"lumbar": ["discectomy_laminectomy", "fusion"], "cervical": ["fusion", "discectomy_laminectomy"],
           "shoulder": ["rotator_cuff_repair", "arthroscopy"], "knee": ["arthroscopy", "acl_reconstruction"],
           "thoracic": ["fusion"]}
DRUGS = ["carisoprodol", "cyclobenzaprine", "tramadol", "ibuprofen"]


def _date(rng: random.Random, start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(days))


def make_case(rng: random.Random, i: int, items: int | None = None) -> dict:
    """One synthetic case; `items` fixes the number of request items (default: 1-3, 1.6 on average)."""
    ca = rng.random() < 0.6
    kind = rng.choice(["ur", "imr", "imr"] if ca else ["ur", "iro", "iro"])
    review = _date(rng, dt.date(2010, 1, 1), 365 * 9)
    injury = review - dt.timedelta(days=rng.randrange(30, 1500))
    regions = rng.sample(list(REGION_DX), rng.choice([1, 1, 1, 2]))
    dx = []
    for r in regions:
        icd9, icd10, texts = REGION_DX[r]
        pick = rng.random()
        if pick < 0.4:
            dx.append({"icd9": rng.choice(icd9), "text": rng.choice(texts)})
        elif pick < 0.8:
            dx.append({"icd10": rng.choice(icd10)})
        else:
            dx.append({"text": rng.choice(texts), "region": r})
    requests = []
    n_items = rng.choice([1, 1, 1, 2, 3])      # drawn even when fixed: the rest of the case stays the same
    for n in range(items or n_items):
        service = rng.choice(SERVICES)
        req: dict = {"id": str(n + 1), "service": service}
        if service == "medication":
            req.update(drug=rng.choice(DRUGS), quantity=rng.choice([30, 60, 90]), text="medication refill")
        elif service == "office_visit":
            req.update(specialty="pain management", purpose=rng.choice(
                ["repeat_epidural_steroid_injection", "follow_up"]), text="follow-up visit")
        elif service == "home_exercise_kit":
            req.update(text="home exercise kit", body_regions=[regions[0]])
        else:
            f, w = rng.choice([(2, 3), (2, 4), (3, 4), (2, 6), (1, 6), (3, 2)])
            req["body_regions"] = regions
            style = rng.random()
            if style < 0.4:
                req["text"] = f"{service.replace('_', ' ')} {f}x{w} {' and '.join(regions)}"
            elif style < 0.7:
                req.update(text=f"{service.replace('_', ' ')} for the {regions[0]}", visits=f * w)
            else:
                req.update(text="", frequency_per_week=f, duration_weeks=w)
        if kind == "ur":
            req["actual"] = rng.choice(["certify", "modify", "non_certify", "non_certify"])
        else:
            req["actual"] = rng.choices(["upheld", "overturned", "partially_overturned"], [6, 3, 1])[0]
        requests.append(req)
    history: dict = {}
    if rng.random() < 0.85:
        history["therapy"] = [
            {"service": rng.choice(["physical_therapy", "chiropractic", "occupational_therapy"]),
             "body_regions": [rng.choice(regions)],
             "visits_completed": rng.choice([None, 4, 6, 8, 10, 12, 18, 24]),
             "end_date": (review - dt.timedelta(days=rng.randrange(5, 400))).isoformat()}
            for _ in range(rng.choice([0, 1, 1, 2]))]
    if rng.random() < 0.25:
        r = rng.choice(regions)
        history["surgeries"] = [{"kind": rng.choice(SURGERY[r]), "region": r,
                                 "date": (review - dt.timedelta(days=rng.randrange(20, 900))).isoformat()}]
    if rng.random() < 0.15:
        history["injections"] = [{"kind": "epidural_steroid", "region": "lumbar",
                                  "date": (review - dt.timedelta(days=rng.randrange(30, 300))).isoformat(),
                                  "pain_relief_percent": rng.choice([20, 50, 70]), "relief_weeks": rng.choice([2, 6, 8])}]
    docs = {k: rng.choice([True, False]) for k in ("functional_improvement", "objective_functional_deficits",
                                                   "home_exercise_program", "new_injury_or_flare",
                                                   "exceptional_factors") if rng.random() < 0.4}
    if docs:
        history["documentation"] = docs
    return {"id": f"syn-{i:07d}", "jurisdiction": "CA" if ca else "TX",
            "review": {"kind": kind, "date": review.isoformat()},
            "patient": {"age": rng.randrange(18, 70), "sex": rng.choice(["male", "female"])},
            "injury_date": injury.isoformat(), "diagnoses": dx, "requests": requests, "history": history}


def set_agreement(path: Path, share: float, seed: int = 9) -> None:
    """Rewrite each item's random `actual` so that about `share` of the items agree with ptcheck's own
    prediction (real audits are mostly agreement; random actuals make ~60% disagree, and each disagreeing
    case is checked twice). Done before any timing."""
    from ptcheck import Checker, validate_case
    from ptcheck.audit._audit import predicted_label
    rng = random.Random(seed)
    checker = Checker()
    lines = path.read_text(encoding="utf-8").splitlines()
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            data = json.loads(line)
            loaded = validate_case(data)
            if loaded.ok and rng.random() < share:
                items = checker.check(loaded.case, explain=False).items
                for req, item in zip(data["requests"], items):
                    if "actual" not in req:
                        continue
                    if req["actual"] in REVIEW:
                        req["actual"] = predicted_label(item)
                    elif item.outcome != "pend":           # a UR decision is never recorded as "pend"
                        req["actual"] = item.outcome
            fh.write(json.dumps(data, separators=(",", ":")) + "\n")


REVIEW = ("upheld", "overturned", "partially_overturned")


def write_cases(path: Path, n: int, seed: int = 5, items: int | None = None) -> int:
    rng = random.Random(seed)
    size = 0
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            line = json.dumps(make_case(rng, i, items), separators=(",", ":")) + "\n"
            size += len(line)
            fh.write(line)
    return size


# ---------------------------------------------------------------------------------------------
# measurements




def rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> tuple[float, float]:
    """(this process, the largest child) peak RSS in MB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def _digest(report) -> str:
    import hashlib
    return hashlib.sha256(json.dumps(report.to_json_dict(), sort_keys=True).encode()).hexdigest()


def _busy_seconds() -> float:
    """CPU seconds (all cores) the machine has spent busy since boot, from /proc/stat."""
    try:
        f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return float("nan")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


OTHERS: dict[str, float] = {}


def time_audit(path: Path, jobs: int) -> tuple[float, object]:
    """Wall time of one audit; also records the CPU that *other* processes used meanwhile (in cores),
    since a busy neighbour on a 2-core machine skews every figure."""
    busy, own = _busy_seconds(), _own_seconds()
    t = time.perf_counter()
    report = audit([path], jobs=jobs)
    elapsed = time.perf_counter() - t
    OTHERS[f"{path}:{jobs}:{len(OTHERS)}"] = ((_busy_seconds() - busy) - (_own_seconds() - own)) / elapsed
    return elapsed, report


def time_json_loads(path: Path) -> float:
    """Seconds to read the file and json.loads every line (the floor issue 10 measures against)."""
    t = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                json.loads(line)
    return time.perf_counter() - t


SHAPE: dict = {}


def time_cli(path: Path, jobs: int, max_listed: int | None = None) -> tuple[float, str]:
    """Wall time of `ptcheck audit PATH --jobs N --json [--max-listed K]` in a fresh process, and a digest of
    its stdout."""
    import hashlib
    import subprocess
    cmd = [sys.executable, "-c", "from ptcheck.cli import main; main()", "audit", str(path), "--jobs", str(jobs),
           "--json", *(["--max-listed", str(max_listed)] if max_listed is not None else [])]
    busy, own = _busy_seconds(), _own_seconds()
    t = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    elapsed = time.perf_counter() - t
    OTHERS[f"cli:{jobs}:{len(OTHERS)}"] = ((_busy_seconds() - busy) - (_own_seconds() - own)) / elapsed
    if done.returncode not in (0, 1):
        raise RuntimeError(f"ptcheck audit failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    if not SHAPE:
        rep = json.loads(done.stdout)
        SHAPE.update(cases=rep["cases"], items=rep["items_total"], disagreements=rep["disagreement_count"],
                     errors=rep["error_count"])
    return elapsed, hashlib.sha256(done.stdout).hexdigest()


def cli_mode(path: Path, n: int, jobs: int, runs: int, max_listed: int | None = None) -> None:
    import statistics
    rows: dict[str, list[float]] = {"json.loads": [], f"--jobs {jobs}": [], "--jobs 1": []}
    ratios: dict[str, list[float]] = {f"--jobs {jobs}": [], "--jobs 1": []}
    digests = set()
    for r in range(runs):
        jl = time_json_loads(path)
        rows["json.loads"].append(jl)
        others = {}
        for name, j in ((f"--jobs {jobs}", jobs), ("--jobs 1", 1)):
            t, digest = time_cli(path, j, max_listed)
            others[name] = max(0.0, list(OTHERS.values())[-1])
            digests.add(digest)
            rows[name].append(t)
            ratios[name].append(t / jl)
        print(f"run {r + 1}: json.loads {jl:.3f} s; " + "; ".join(
            f"{k} {rows[k][-1]:.2f} s ({n / rows[k][-1]:,.0f} cases/s, {ratios[k][-1]:.0f}x json.loads, "
            f"other processes used {others[k]:.2f} cores)" for k in ratios), flush=True)
    listed = "" if max_listed is None else f" --max-listed {max_listed}"
    print(f"{f'`ptcheck audit --json{listed}`, fresh process':<40} {'median s':>9} {'cases/s':>9} {'x json.loads':>13}")
    for k, v in rows.items():
        med = statistics.median(v)
        ratio = f"{statistics.median(ratios[k]):.0f}" if k in ratios else "1"
        print(f"{k:<40} {med:>9.3f} {n / med:>9,.0f} {ratio:>13}")
    print(f"stdout identical across every run and --jobs value: {len(digests) == 1}")
    print(f"workload: {SHAPE['cases']:,} cases, {SHAPE['items']:,} items, {SHAPE['disagreements']:,} items disagreeing "
          f"({SHAPE['disagreements'] / max(1, SHAPE['items']):.0%}), {SHAPE['errors']} errors")


def raw_durable(path: Path, n_cases: int) -> dict:
    """Replay the Registered.run(facts) calls of n_cases cases; time only those calls."""
    from ptcheck import Checker, load_cases
    from ptcheck.core import _durable
    calls: list = []
    original = _durable.Registered.run

    def recording(self, facts, encoded=None):
        calls.append((self, dict(facts), encoded))
        return original(self, facts, encoded)

    checker = Checker()
    _durable.Registered.run = recording
    try:
        t0 = time.perf_counter()
        done = 0
        for loaded in load_cases([path]):
            if done >= n_cases:
                break
            if loaded.ok:
                try:
                    checker.check(loaded.case)
                except Exception:
                    pass
            done += 1
        check_time = time.perf_counter() - t0
    finally:
        _durable.Registered.run = original
    if not calls:
        raise RuntimeError("no Registered.run call was recorded: the engine's call changed")
    for reg, facts, encoded in calls[:200]:     # warm-up
        reg.run(facts, encoded)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for reg, facts, encoded in calls:
            reg.run(facts, encoded)
        best = min(best, time.perf_counter() - t)
    return {"cases": done, "runs": len(calls), "seconds": best, "cases_per_s": done / best,
            "runs_per_s": len(calls) / best, "us_per_run": best / len(calls) * 1e6,
            "check_seconds_including_replays": check_time}


def breakdown(path: Path, n_cases: int) -> list[tuple[str, float]]:
    """Microseconds per case for each stage of an in-process audit (after a warm-up)."""
    from ptcheck import Checker
    from ptcheck.audit._audit import Tally as _Partial, _load_line
    from ptcheck.core import _check, _durable
    lines = []
    with path.open(encoding="utf-8") as fh:
        for n, text in enumerate(fh, start=1):
            lines.append((n, text))
            if len(lines) >= n_cases:
                break
    src = str(path)
    checker = Checker()
    for n, text in lines[:200]:                 # warm-up: ICD tables, rule compilation
        loaded = _load_line(src, n, text)
        if loaded.ok:
            checker.check(loaded.case)
    spent = {"durable": 0.0, "derive": 0.0}
    run, derive = _durable.Registered.run, _check.derive

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t
        return wrapper
    from ptcheck.core._caseload import validate_case
    t_parse = t_valid = t_check = t_tally = 0.0
    p = _Partial()
    _durable.Registered.run, _check.derive = timed("durable", run), timed("derive", derive)
    try:
        for k, (n, text) in enumerate(lines):   # one case at a time, as a worker does
            if k % 200 == 0:
                p = _Partial()                  # a worker's tally per chunk (then sent to the parent)
            t0 = time.perf_counter()
            data = json.loads(text)
            t1 = time.perf_counter()
            loaded = validate_case(data, source=src, line=n)
            t2 = time.perf_counter()
            if not loaded.ok:
                continue
            decision = checker.check(loaded.case)
            t3 = time.perf_counter()
            p._tally(decision, loaded)
            t4 = time.perf_counter()
            t_parse += t1 - t0
            t_valid += t2 - t1
            t_check += t3 - t2
            t_tally += t4 - t3
    finally:
        _durable.Registered.run, _check.derive = run, derive
    n = len(lines)
    us = lambda s: s / n * 1e6  # noqa: E731
    return [("read + json.loads", us(t_parse)), ("validation (pydantic case model)", us(t_valid)),
            ("check: fact derivation", us(spent["derive"])),
            ("check: durable_rules Registered.run", us(spent["durable"])),
            ("check: the rest (rule set choice, findings, messages, figures)",
             us(t_check - spent["derive"] - spent["durable"])),
            ("audit tallies and disagreement records", us(t_tally)),
            ("total", us(t_parse + t_valid + t_check + t_tally))]


def profile(path: Path, top: int = 30) -> None:
    import cProfile
    import pstats
    audit([path], jobs=1)                       # warm-up (ICD tables load once per process, ~3 s)
    pr = cProfile.Profile()
    pr.enable()
    audit([path], jobs=1)
    pr.disable()
    st = pstats.Stats(pr, stream=sys.stdout)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)


def memory_mode(n: int, jobs: int, max_listed: int | None, tmp: Path) -> None:
    import multiprocessing
    path = tmp / "memory.jsonl"
    t = time.perf_counter()
    size = write_cases(path, n)
    print(f"generated {n:,} cases ({size / 2**20:.0f} MB) in {time.perf_counter() - t:.1f} s -> {path}")
    marks = [n * k // 10 for k in range(1, 11)]
    samples = []
    start = time.perf_counter()

    def progress(done: int, total) -> None:
        while marks and done >= marks[0]:
            marks.pop(0)
            kids = [rss_mb(p.pid) for p in multiprocessing.active_children()]
            samples.append((done, time.perf_counter() - start, rss_mb(), kids))
    print(f"streaming with jobs={jobs}, disagreements/errors listed: "
          f"{'all' if max_listed is None else max_listed}")
    report = audit([path], jobs=jobs, progress=progress, max_listed=max_listed)
    print(f"{'cases':>10} {'elapsed s':>10} {'parent RSS MB':>14} {'worker RSS MB':>20}")
    for done, el, parent, kids in samples:
        print(f"{done:>10,} {el:>10.1f} {parent:>14.1f} {' '.join(f'{k:.1f}' for k in kids):>20}")
    print(f"audited {report.cases:,} cases, {report.items:,} items, {report.disagreement_count:,} disagreements "
          f"({len(report.disagreements):,} kept), {report.error_count:,} errors; "
          f"peak RSS parent {peak_rss_mb()[0]:.0f} MB, largest worker {peak_rss_mb()[1]:.0f} MB")
    path.unlink()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20000, help="synthetic cases (default 20000)")
    ap.add_argument("--jobs", type=int, default=None, help="workers for the parallel run (default: all cores)")
    ap.add_argument("--memory", type=int, metavar="N", help="memory-flatness mode: stream N cases")
    ap.add_argument("--keep", type=int, default=1000, metavar="K",
                    help="memory mode: list at most K disagreements/errors (-1 = all; counts stay exact)")
    ap.add_argument("--profile", action="store_true", help="cProfile an in-process audit of --cases cases")
    ap.add_argument("--raw-cases", type=int, default=5000, help="cases replayed for the raw durable rate")
    ap.add_argument("--items", type=int, default=None, metavar="N",
                    help="request items per case (default: 1-3, 1.6 on average)")
    ap.add_argument("--cli", action="store_true",
                    help="time the `ptcheck audit` command (fresh processes) against json.loads; see --runs")
    ap.add_argument("--runs", type=int, default=3, help="--cli: runs, the median is shown (default 3)")
    ap.add_argument("--max-listed", type=int, default=None, metavar="K",
                    help="--cli: pass --max-listed K (list the first K disagreements; counts stay exact)")
    ap.add_argument("--agree", type=float, default=None, metavar="P",
                    help="make about P (0-1) of the items agree with ptcheck (default: random actual outcomes)")
    args = ap.parse_args(argv)
    m = machine()
    jobs = args.jobs or m["nproc"]
    print(f"machine: nproc {m['nproc']} (cpu_count {m['cpu_count']}), CPU {m['cpu']}, Python {m['python']}, "
          f"{m['platform']}")
    with tempfile.TemporaryDirectory(prefix="ptcheck-bench-") as d:
        tmp = Path(d)
        if args.memory:
            memory_mode(args.memory, jobs, None if args.keep < 0 else args.keep, tmp)
            return
        path = tmp / "cases.jsonl"
        t = time.perf_counter()
        size = write_cases(path, args.cases, items=args.items)
        if args.agree is not None:
            set_agreement(path, args.agree)
        print(f"generated {args.cases:,} cases ({size / 2**20:.1f} MB JSONL) in {time.perf_counter() - t:.1f} s"
              + (f", about {args.agree:.0%} of the items set to agree with ptcheck" if args.agree is not None else ""))
        if args.cli:
            cli_mode(path, args.cases, jobs, args.runs, args.max_listed)
            return
        if args.profile:
            profile(path)
            return
        rows = []
        # jobs N first, from a cold parent (as `ptcheck audit` runs), then jobs 1 in this process, then
        # jobs N again from the now warm parent (ICD tables and compiled rule sets inherited by fork).
        # Reports are compared by digest and dropped, so that later forks do not inherit them.
        tn, rn = time_audit(path, jobs)
        peak_child = peak_rss_mb()[1]
        rows.append((f"audit end to end, --jobs {jobs} (cold start included)", args.cases / tn, tn))
        digest_n, rn = _digest(rn), None
        t1, r1 = time_audit(path, 1)
        peak_self = peak_rss_mb()[0]
        rows.append(("audit end to end, --jobs 1 (cold start included)", args.cases / t1, t1))
        digest_1 = _digest(r1)
        summary = (r1.items, r1.accuracy, r1.kappa, r1.error_count, r1.errors[:5])
        r1 = None
        tw, _ = time_audit(path, jobs)
        rows.append((f"audit end to end, --jobs {jobs} (warm parent: caches inherited)", args.cases / tw, tw))
        same = digest_1 == digest_n
        raw = raw_durable(path, min(args.raw_cases, args.cases))
        stages = breakdown(path, min(args.raw_cases, args.cases))
        rows.append((f"raw durable_rules Registered.run ({raw['runs']:,} runs of {raw['cases']:,} cases)",
                     raw["cases_per_s"], raw["seconds"]))
        print()
        others = list(OTHERS.values())
        print(f"{'measure':<62} {'cases/s':>10} {'seconds':>9} {'others':>7}")
        for k, (name, rate, secs) in enumerate(rows):
            other = f"{max(0.0, others[k]):.2f}" if k < len(others) else ""
            print(f"{name:<62} {rate:>10,.0f} {secs:>9.2f} {other:>7}")
        print(f"{'raw durable_rules: runs/s, us per run':<62} {raw['runs_per_s']:>10,.0f} {raw['us_per_run']:>9.1f}")
        print("others: CPU cores used by other processes on the machine during the run (0 = quiet machine)")
        print(f"peak RSS: in-process audit (jobs 1) {peak_self:.0f} MB; largest worker of the jobs {jobs} "
              f"run {peak_child:.0f} MB")
        print(f"speed-up with {jobs} jobs: {t1 / tn:.2f}x cold, {t1 / tw:.2f}x warm; reports identical: {same}")
        print()
        print(f"{'stage (in process, warm, per case)':<62} {'us':>10} {'share':>9}")
        total = stages[-1][1]
        for name, v in stages:
            print(f"{name:<62} {v:>10.1f} {v / total:>9.0%}")
        items, acc, kappa, n_errors, first_errors = summary
        print(f"report: {items:,} items compared, accuracy {acc:.3f}, kappa "
              f"{'n/a' if kappa is None else f'{kappa:.3f}'}, {n_errors} errors"
              + (" (synthetic outcomes are random)" if args.agree is None else ""))
        if first_errors:
            print("first errors:", *[f"  {e.line}: {e.messages}" for e in first_errors], sep="\n")


if __name__ == "__main__":
    main()
