"""Hostile input, round two (issue 19), through the command line: one case never ends the batch, outputs
are regular files only, writing errors are one line, files without a case are said, odd file names stay
on one line."""
import json
import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ptcheck.cli import app
from tests.conftest import ROOT

runner = CliRunner()
SEEDS = ROOT / "cases/seeds"


def _run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ptcheck.cli", *args], capture_output=True, text=True,
                          timeout=300, **kw)


def test_check_answers_the_other_cases_after_an_engine_error(monkeypatch):
    from ptcheck.core._check import Checker
    from ptcheck.core._errors import EngineError
    real = Checker.check

    def failing(self, case, *a, **kw):
        if case.id == "seed-002":
            raise EngineError(f"case {case.id!r}, item '1': a fact cannot be given to durable_rules: boom")
        return real(self, case, *a, **kw)

    monkeypatch.setattr(Checker, "check", failing)
    r = runner.invoke(app, ["check", str(SEEDS), "--json"])
    assert r.exit_code == 2, r.output                           # README: engine errors are exit 2
    answered = [json.loads(line)["case"] for line in r.stdout.splitlines()]
    assert len(answered) == len(list(SEEDS.glob("*.yaml"))) - 1 and "seed-002" not in answered
    lines = [ln for ln in r.stderr.splitlines() if "E001" in ln]
    assert len(lines) == 1 and "seed-002.yaml:" in lines[0] and "the engine failed on this case" in lines[0]
    assert "1 case(s) not answered: engine error" in r.stderr


def test_any_other_failure_on_one_case_is_its_type_only_and_the_batch_answers(monkeypatch):
    from ptcheck.core._check import Checker
    real = Checker.check

    def failing(self, case, *a, **kw):
        if case.id == "seed-003":
            raise RuntimeError("Could not create ruleset for phimarker John Patient")
        return real(self, case, *a, **kw)

    monkeypatch.setattr(Checker, "check", failing)
    r = runner.invoke(app, ["check", str(SEEDS), "--json"])
    assert r.exit_code == 2
    assert len(r.stdout.splitlines()) == len(list(SEEDS.glob("*.yaml"))) - 1
    (line,) = [ln for ln in r.stderr.splitlines() if "E001" in ln]
    assert "seed-003.yaml:" in line and "RuntimeError" in line and "phimarker" not in r.stderr


def test_a_product_beyond_64_bits_is_one_error_and_the_batch_answers(tmp_path):
    bad = (ROOT / "tests/malformed/cases/product_beyond_64_bits.yaml").read_text()
    (tmp_path / "b.yaml").write_text(bad)
    r = _run("check", str(tmp_path), "--json")
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["case"] == "product_beyond_64_bits-ok"
    assert "frequency_per_week" in r.stderr and "durable_rules" not in r.stderr


def test_stdout_on_a_full_disk_is_one_line_exit_1():
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "ptcheck.cli", "check", str(SEEDS / "seed-001.yaml"), "--json"],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 1
    assert r.stderr.strip() == "error: cannot write the output: No space left on device"


def test_html_refuses_a_device_and_a_fifo_and_writes_through_a_symlink(tmp_path):
    # a device of the test's own (the /dev/full device, made in tmp_path): a regression replaces only it,
    # never the machine's /dev/full (main before issue 19 turned /dev/full into a regular file)
    device = tmp_path / "full"
    try:
        os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
    except PermissionError:
        device = None                                        # not root: the FIFO below still checks the rule
    if device is not None:
        r = _run("audit", str(SEEDS), "--html", str(device))
        assert r.returncode == 1 and "it is a device, not a regular file" in r.stderr
        assert stat.S_ISCHR(os.lstat(device).st_mode)       # still the device, not replaced by a report
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    r = _run("audit", str(SEEDS), "--html", str(fifo))
    assert r.returncode == 1 and "it is a FIFO" in r.stderr
    target = tmp_path / "report.html"
    target.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    r = _run("audit", str(SEEDS), "--html", str(link))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and target.read_text().startswith("<!DOCTYPE html>")


def test_cases_import_into_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text("Independent Review Organization decision. Physical therapy 2x4 for the lumbar spine.\n")
    r = _run("cases", "import", str(letter), "--out", "/proc/ptcheck-no-such/x")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: cannot write /proc/ptcheck-no-such/x:") and len(r.stderr.splitlines()) == 1
    assert "internal error" not in r.stderr


@pytest.mark.parametrize("name,text", [("empty.yaml", ""), ("comments.yaml", "# nothing\n"), ("list.json", "[]"),
                                       ("blank.jsonl", "\n\n")])
def test_a_file_without_a_case_is_said_exit_1(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    for command in ("check", "audit"):
        r = _run(command, str(tmp_path / name))
        assert r.returncode == 1 and "C003 no case in this file" in r.stderr, (command, r.stderr)


def test_a_newline_in_a_file_name_keeps_the_error_on_one_line(tmp_path):
    f = tmp_path / "two\nlines.yaml"
    f.write_text("id: x\njurisdiction: XX\nrequests: []\n")
    r = _run("check", str(f))
    assert r.returncode == 1
    problems = [ln for ln in r.stderr.splitlines() if "C100" in ln]
    assert problems and all("two\\nlines.yaml:" in ln for ln in problems)
    assert not any(ln.startswith("lines.yaml") for ln in r.stderr.splitlines())


def test_rules_explain_runs_outside_a_checkout(tmp_path):
    r = _run("rules", "explain", "pm.over-course", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "bundled cases where it fires (0)" in r.stdout


def test_audit_of_the_whole_hostile_corpus_reports_every_case():
    """A YAML tag crashed the loader inside a worker: "a worker failed" and no report (issue 19 item 2)."""
    r = _run("audit", str(ROOT / "tests/malformed/cases"), "--json", "--jobs", "2")
    assert r.returncode == 1, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["cases_checked"] >= 20 and report["error_count"] >= 40
    assert "worker" not in r.stderr and "internal error" not in r.stderr
