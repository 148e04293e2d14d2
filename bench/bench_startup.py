"""Start-up benchmark: wall time of `ptcheck --help` and `ptcheck check cases/seeds/seed-001.yaml`, each in
fresh processes, median of --runs (after one warm-up run that is not counted), against the targets of
issue 10 (--help <= 0.2 s, check of one seed case <= 0.5 s).

    python bench/bench_startup.py                   # median of 5 runs each
    python bench/bench_startup.py --runs 3
    python bench/bench_startup.py --importtime      # also: the slowest imports of each command (-X importtime)
    python bench/bench_startup.py --profile         # also: where `check` spends its time (cProfile, top 25)
    python bench/bench_startup.py --root /tmp/old   # another checkout (e.g. `git archive OLD | tar -x`), same way
    python bench/bench_startup.py --no-cache        # with the rules cache off (PTCHECK_NO_CACHE=1): every rule
                                                    # file parsed, every rule set in force compiled, as after an edit

The command is the `ptcheck` script beside this Python (the installed entry point), else
`python -m ptcheck.cli`; with --root, `python -m ptcheck.cli` run from that checkout (PYTHONPATH and
$PTCHECK_RULES pointing into it), for a before/after comparison with the same interpreter and packages. CPU
time (user + system) of each child is printed too: on a shared machine wall time includes waiting for a core,
CPU time does not. The load average is printed for that reason.

The rules cache (engine/core/_rulecache.py: loaded rule libraries and compiled rule sets, by content hash) is
filled by the warm-up run, so the figures are those of a repeated command; --no-cache measures the first run
after a rule file (or the engine) changed.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine_line  # bench/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parents[1]
SEED = "cases/seeds/seed-001.yaml"
TARGETS = {"--help": 0.2, "check": 0.5}


def ptcheck_cmd() -> list[str]:
    script = Path(sys.executable).with_name("ptcheck")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ptcheck.cli"]


def cache_line() -> str:
    """Where the rules cache is, as the children see it (the same rule as engine/core/_rulecache.py)."""
    if os.environ.get("PTCHECK_NO_CACHE", "") not in ("", "0"):
        return "off (PTCHECK_NO_CACHE)"
    where = os.environ.get("PTCHECK_CACHE_DIR") or (
        os.path.join(os.environ["XDG_CACHE_HOME"], "ptcheck") if os.path.isabs(os.environ.get("XDG_CACHE_HOME", ""))
        else os.path.join(os.path.expanduser("~"), ".cache", "ptcheck"))
    return f"{where} (filled by the warm-up run)"


def run_once(cmd: list[str], root: Path = ROOT, env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(cmd: list[str], runs: int, root: Path = ROOT, env: dict | None = None) -> dict:
    run_once(cmd, root, env)                          # warm-up: file cache, .pyc files
    walls, cpus = zip(*(run_once(cmd, root, env) for _ in range(runs)))
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "cpu": statistics.median(cpus), "runs": walls}


def importtime(args: list[str], top: int = 15) -> list[tuple[int, str]]:
    """The slowest imports (cumulative microseconds) of `python -X importtime -m ptcheck.cli ARGS`."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ptcheck.cli", *args], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def profile_check(top: int = 25) -> str:
    code = ("import cProfile, pstats, sys, io\n"
            "sys.argv = ['ptcheck', 'check', %r]\n"
            "pr = cProfile.Profile(); pr.enable()\n"
            "try:\n    from ptcheck.cli import main; main()\nexcept SystemExit:\n    pass\n"
            "pr.disable(); s = io.StringIO()\n"
            "pstats.Stats(pr, stream=s).sort_stats('cumulative').print_stats(%d)\n"
            "sys.stderr.write(s.getvalue())\n") % (SEED, top)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    return proc.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per command (median reported; default 5)")
    ap.add_argument("--importtime", action="store_true", help="also list the slowest imports of each command")
    ap.add_argument("--profile", action="store_true", help="also profile `check` (cProfile)")
    ap.add_argument("--root", type=Path, help="measure another checkout of ptcheck (python -m ptcheck.cli there)")
    ap.add_argument("--no-cache", action="store_true", help="turn the rules cache off (PTCHECK_NO_CACHE=1)")
    args = ap.parse_args(argv)
    root, env = ROOT, None
    if args.no_cache:
        os.environ["PTCHECK_NO_CACHE"] = "1"
    if args.root:
        root = args.root.resolve()
        env = dict(os.environ, PYTHONPATH=str(root), PTCHECK_RULES=str(root / "rules"))
        base = [sys.executable, "-m", "ptcheck.cli"]
    else:
        os.environ.setdefault("PTCHECK_RULES", str(ROOT / "rules"))
        base = ptcheck_cmd()
    print(f"machine: {machine_line()}")
    print(f"command: {' '.join(base)} in {root}; {args.runs} runs each after one warm-up, fresh processes")
    print(f"rules cache: {cache_line()}")
    failed = False
    for label, extra in (("--help", ["--help"]), ("check", ["check", SEED])):
        m = measure(base + extra, args.runs, root, env)
        ok = m["median"] <= TARGETS[label]
        failed |= not ok
        print(f"  ptcheck {' '.join(extra):40s} median {m['median']:.3f} s wall (min {m['min']:.3f}, "
              f"max {m['max']:.3f}), {m['cpu']:.3f} s CPU; target <= {TARGETS[label]} s: "
              f"{'met' if ok else 'NOT met'}")
    if args.importtime:
        for extra in (["--help"], ["check", SEED]):
            print(f"\nslowest imports of `ptcheck {' '.join(extra)}` (cumulative ms, -X importtime):")
            for us, name in importtime(extra):
                print(f"  {us / 1000:8.1f}  {name}")
    if args.profile:
        print(f"\ncProfile of `ptcheck check {SEED}`:")
        print(profile_check())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
