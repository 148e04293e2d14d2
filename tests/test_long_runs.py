"""Long audits: interrupting (SIGINT, SIGTERM) writes the partial report and says where it stopped;
--checkpoint/--resume finishes with the same report as an uninterrupted run; output hygiene (one line per
problem, escaped control characters, no case free text in errors); audit groups by origin."""
import json
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

from typer.testing import CliRunner

import ptcheck.audit._audit as audit_mod
import ptcheck.audit._tally as tally_mod
from ptcheck.audit._audit import audit, origin_group
from ptcheck.audit._report_html import render_html
from ptcheck.cli import app
from ptcheck.core._textsafe import printable, redact
from tests.conftest import ROOT, case_dict
from tests.test_audit import Planned

runner = CliRunner()
N_CASES, CHUNK, GATE = 300, 25, 210

# Runs the real CLI in a subprocess with small chunks; with GATE_CASE set, the worker that reaches that
# case waits there until it is stopped, so an interrupt always lands in the middle of the run (no timing).
HARNESS = """
import os, sys, time
import ptcheck.audit._audit as a
a.CHUNK_LINES = int(os.environ["CHUNK_LINES"])
gate = os.environ.get("GATE_CASE")
if gate:
    from ptcheck.core._check import Checker
    real = Checker.check
    def check(self, case, **k):
        while case.id == gate:
            time.sleep(0.05)
        return real(self, case, **k)
    Checker.check = check
from ptcheck.cli import main
sys.argv = ["ptcheck", *sys.argv[1:]]
main()
"""


def _cases(path, n=N_CASES):
    """n varied cases without surgeries (the derived-fact crash of durable_rules stays out of this test)."""
    lines = []
    for i in range(n):
        imr = i % 3 == 0
        prior = [[], [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 12}],
                 [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 4}]][i % 3]
        actual = ["upheld", "overturned"][i % 2] if imr else ["certify", "modify", "non_certify"][i % 3]
        lines.append(json.dumps(case_dict(
            id=f"c{i:04d}", jurisdiction="CA", review={"kind": "imr" if imr else "ur", "date": "2014-07-01"},
            diagnoses=[{"icd9": "847.2"}] if i % 2 else [{"icd10": "M54.16"}],
            requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"],
                       "visits": [4, 6, 8, 12, 20][i % 5], "actual": actual}],
            history={"therapy": prior})))
    path.write_text("\n".join(lines) + "\n")
    return path


def _start(tmp_path, *args, gate=None):
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    env = dict(os.environ, CHUNK_LINES=str(CHUNK), PTCHECK_RULES=str(ROOT / "rules"), PYTHONPATH=str(ROOT))
    env.pop("GATE_CASE", None)
    if gate:
        env["GATE_CASE"] = gate
    return subprocess.Popen([sys.executable, str(harness), "audit", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupt_after_progress(proc, sig):
    first = proc.stderr.readline()              # the first progress line: some chunks are done
    assert first.startswith("audit: "), first
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return out, first + err


def test_sigint_writes_a_partial_report_and_resume_finishes_it_exactly(tmp_path):
    cases = _cases(tmp_path / "cases.jsonl")
    full = audit([cases], jobs=1).to_json_dict()          # the uninterrupted run
    assert full["cases"] == N_CASES and full["disagreement_count"] > 10
    ck = tmp_path / "state" / "audit.checkpoint"
    ck.parent.mkdir()

    proc = _start(tmp_path, cases, "--json", "--jobs", "2", "--progress", "--checkpoint", ck, gate=f"c{GATE:04d}")
    out, err = _interrupt_after_progress(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    part = json.loads(out)
    done = part["cases"]
    assert part["partial"] is True and CHUNK <= done < GATE and done % CHUNK == 0
    assert part["stopped_at"] == {"file": str(cases), "line": done, "cases_done": done}
    assert f"interrupted by SIGINT: partial report, stopped after {done} case(s), at {cases} after line {done}" in err
    assert f"--checkpoint {ck} --resume" in err
    assert "Traceback" not in err and ck.exists() and oct(ck.stat().st_mode & 0o777) == "0o600"
    assert not list(ck.parent.glob("*.tmp"))                  # written atomically: no temporary left
    # the partial figures are exactly those of the first `done` cases
    head = tmp_path / "head.jsonl"
    head.write_text("".join(cases.read_text().splitlines(keepends=True)[:done]))
    first = audit([head], jobs=1).to_json_dict()
    for k in ("cases", "items", "agree", "confusion", "disagreement_count"):
        assert part[k] == first[k], k

    # without --resume an existing checkpoint is refused (never silently overwritten or reused)
    r = runner.invoke(app, ["audit", str(cases), "--checkpoint", str(ck)])
    assert r.exit_code == 2 and "add --resume" in r.stderr

    proc = _start(tmp_path, cases, "--json", "--jobs", "2", "--checkpoint", ck, "--resume")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    resumed = json.loads(out)
    assert resumed == full                                # same counts, lists, order: nothing lost or doubled
    ids = [(d["case"], d["request"]) for d in resumed["disagreements"]]
    assert len(ids) == len(set(ids)) == full["disagreement_count"]
    assert not ck.exists()                                # finished: nothing left to resume


def test_sigterm_is_the_same_and_names_the_way_to_resume(tmp_path):
    cases = _cases(tmp_path / "cases.jsonl", 120)
    proc = _start(tmp_path, cases, "--jobs", "2", "--progress", gate="c0100")
    out, err = _interrupt_after_progress(proc, signal.SIGTERM)
    assert proc.returncode == 143, err
    assert out.startswith("PARTIAL REPORT: the audit was interrupted; stopped after")
    assert "interrupted by SIGTERM" in err and "run with --checkpoint FILE to be able to resume" in err
    assert "Traceback" not in err and "c00" not in err          # progress and messages: counts, no case ids


def test_resume_refuses_a_changed_input_or_a_missing_checkpoint(tmp_path):
    cases = _cases(tmp_path / "cases.jsonl", 30)
    ck = tmp_path / "ck.json"
    stop_at_once = iter([True]).__next__                       # stops after the first chunk
    monkey = audit_mod.CHUNK_LINES
    try:
        audit_mod.CHUNK_LINES = 10
        r = audit([cases], jobs=1, checkpoint=ck, stop=stop_at_once)
    finally:
        audit_mod.CHUNK_LINES = monkey
    assert r.partial and r.cases == 10 and ck.exists()
    r = runner.invoke(app, ["audit", str(cases), "--checkpoint", str(tmp_path / "none.json"), "--resume"])
    assert r.exit_code == 2 and "no such checkpoint" in r.stderr
    r = runner.invoke(app, ["audit", str(cases), "--resume"])
    assert r.exit_code == 2 and "--resume needs --checkpoint" in r.stderr
    with cases.open("a") as fh:
        fh.write(json.dumps(case_dict(id="late")) + "\n")
    r = runner.invoke(app, ["audit", str(cases), "--checkpoint", str(ck), "--resume"])
    assert r.exit_code == 2 and "changed since the checkpoint" in r.stderr


def test_resume_in_process_equals_one_run(tmp_path, monkeypatch):
    """The library path: several stops and resumes, over JSONL and YAML files, give one run's report."""
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 7)
    monkeypatch.setattr(audit_mod, "CHUNK_FILES", 2)
    _cases(tmp_path / "a.jsonl", 40)
    for k in range(5):
        (tmp_path / f"y{k}.yaml").write_text(json.dumps(case_dict(id=f"y{k}", requests=[
            {"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 6,
             "actual": "certify"}])))
    (tmp_path / "b.jsonl").write_text("{broken\n" + (tmp_path / "a.jsonl").read_text().replace("c0", "d0"))
    full = audit([tmp_path], jobs=1).to_json_dict()
    ck = tmp_path.parent / f"{tmp_path.name}.ck"
    calls = {"n": 0}

    def stop_every_third():
        calls["n"] += 1
        return calls["n"] % 3 == 0
    r = audit([tmp_path], jobs=1, checkpoint=ck, stop=stop_every_third)
    rounds = 1
    while r.partial and rounds < 60:                      # bounded: a resume that never advances fails
        r = audit([tmp_path], jobs=1, checkpoint=ck, resume=True, stop=stop_every_third)
        rounds += 1
    assert rounds > 4 and r.to_json_dict() == full


# ---------------------------------------------------------------------------------------------
# output hygiene


def test_jobs_are_capped_at_the_cpus(tmp_path):
    cases = _cases(tmp_path / "c.jsonl", 3)
    cpus = len(os.sched_getaffinity(0))
    r = runner.invoke(app, ["audit", str(cases), "--jobs", str(cpus + 3)])
    assert r.exit_code == 0 and f"--jobs {cpus + 3} capped at {cpus} (the number of CPUs)" in r.stderr


def test_printable_and_redact():
    assert printable("a\x1b[31mb\nc\u202e") == "a\\x1b[31mb\\nc\\u202e"
    assert redact("request text 'PT 2x4 for Jane Roe' gives 6 and 8") == "request text '…' gives 6 and 8"
    assert redact("unknown key 'vists' did you mean 'visits'?") == "unknown key 'vists' did you mean 'visits'?"
    assert redact("'2014-07-01' and \"J. Roe\"") == "'…' and \"…\""


def _hostile(tmp_path):
    long_dir = tmp_path / ("a-rather-long-folder-name-" * 3)
    long_dir.mkdir()
    contradicts = case_dict(id="evil\x1b[2J\x1b]0;pwned\x07", requests=[
        {"id": "1", "service": "physical_therapy", "text": "PT 2x4 for Jane Roe DOB 1970-01-02, 6 visits",
         "actual": "certify"}])
    bad_region = case_dict(id="r2", requests=[{"id": "1", "service": "physical_therapy",
                                               "body_regions": ["neck"], "visits": 6}])
    path = long_dir / "cases.jsonl"
    path.write_text(json.dumps(contradicts) + "\n" + json.dumps(bad_region) + "\n")
    return path


def test_audit_errors_are_one_line_escaped_and_without_case_text(tmp_path):
    path = _hostile(tmp_path)
    r = runner.invoke(app, ["audit", str(path), "--json", "--jobs", "1"])
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith(str(path))]
    # case 1: its id is refused (control characters) and its text contradicts itself; case 2: a region
    assert len(lines) == 3 and all(len(ln) > 80 for ln in lines)       # not wrapped at 80 columns
    assert "\x1b" not in r.stderr and all("(case evil\\x1b[2J\\x1b]0;pwned\\x07)" in ln for ln in lines[:2])
    assert "Jane Roe" not in r.stderr and "1970" not in r.stderr
    assert "control characters" in lines[0] and "visit" in lines[1]
    assert "unknown body region 'neck'" in lines[2]                    # enumerated values stay
    errors = json.loads(r.stdout)["errors"]
    assert "Jane Roe" not in json.dumps(errors) and "1970" not in json.dumps(errors)
    assert [e["case"] for e in errors] == ["evil\\x1b[2J\\x1b]0;pwned\\x07", "r2"]   # the refused id, escaped


def test_check_problems_are_one_line_escaped_and_without_case_text(tmp_path):
    path = _hostile(tmp_path)
    r = runner.invoke(app, ["check", str(path)])
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith(str(path))]
    assert len(lines) == 3 and all(len(ln) > 80 for ln in lines)     # the id refused, the text, the region
    assert "Jane Roe" not in r.stderr and "\x1b" not in r.stderr


def test_disagreement_lines_escape_case_strings(tmp_path):
    """Ids with control characters are refused at loading (tests/test_hostile_input.py); a request text may
    carry them into the disagreement lines, where they are shown escaped."""
    d = case_dict(id="x", requests=[{"id": "1", "text": "PT 6 visits\x1b[31m", "service": "physical_therapy",
                                     "body_regions": ["lumbar"], "visits": 6, "actual": "non_certify"}])
    (tmp_path / "c.jsonl").write_text(json.dumps(d) + "\n")
    r = runner.invoke(app, ["audit", str(tmp_path / "c.jsonl"), "--jobs", "1"])
    assert "\x1b" not in r.stdout and "\x1b" not in r.stderr
    assert "\\x1b[31m" in r.stdout          # the disagreement line shows the text escaped


# ---------------------------------------------------------------------------------------------
# groups by origin


def test_origin_is_read_defensively():
    assert origin_group(SimpleNamespace(id="a")) == "unspecified"
    assert origin_group(SimpleNamespace(origin=None)) == "unspecified"
    assert origin_group(SimpleNamespace(origin={"outcome": "real", "source": "IMR"})) == "real"
    assert origin_group(SimpleNamespace(origin=SimpleNamespace(outcome="written"))) == "written"
    enum_like = SimpleNamespace(value="real")
    assert origin_group(SimpleNamespace(origin=SimpleNamespace(outcome=enum_like))) == "real"
    assert origin_group(SimpleNamespace(origin={"outcome": "other"})) == "unspecified"


# (case id, origin, predicted, actual)
GROUPED = ([(f"r{i}", "real", "non_certify", a) for i, a in enumerate(["non_certify"] * 6 + ["certify"] * 4)]
           + [(f"w{i}", "written", p, a) for i, (p, a) in enumerate(
               [("certify", "certify")] * 5 + [("modify", "modify")] * 3 + [("pend", "certify")] * 2)]
           + [("u0", None, "certify", "certify"), ("u1", None, "pend", "non_certify")])


def _grouped(tmp_path, monkeypatch):
    origin = {cid: o for cid, o, _, _ in GROUPED}
    monkeypatch.setattr(tally_mod, "origin_group", lambda case: origin[case.id] or "unspecified")
    lines = [json.dumps(case_dict(id=cid, requests=[{"id": "1", "service": "physical_therapy",
                                                     "body_regions": ["lumbar"], "visits": 6, "actual": a}]))
             for cid, _, _, a in GROUPED]
    (tmp_path / "g.jsonl").write_text("\n".join(lines) + "\n")
    plan = {(cid, "1"): p for cid, _, p, _ in GROUPED}
    return audit([tmp_path / "g.jsonl"], jobs=1, checker_factory=lambda: Planned(plan))


def test_groups_are_reported_apart_real_first_with_the_baseline_flag(tmp_path, monkeypatch):
    r = _grouped(tmp_path, monkeypatch)
    g = {x.origin: x for x in r.groups}
    assert [x.origin for x in r.groups] == ["real", "written", "unspecified"]
    # real: always non_certify; 6 of 10 agree = the majority baseline (always non_certify): flagged
    assert (g["real"].items, g["real"].agree, g["real"].decided) == (10, 6, 10)
    assert g["real"].baseline_label == "non_certify" and g["real"].baseline_accuracy == 0.6
    assert g["real"].no_better_than_baseline is True
    # written: 8 of 10 agree; baseline always certify 7/10; 2 pended
    assert (g["written"].items, g["written"].agree, g["written"].decided) == (10, 8, 8)
    assert g["written"].baseline_accuracy == 0.7 and g["written"].no_better_than_baseline is False
    assert g["written"].decided_share == 0.8
    assert (g["unspecified"].items, g["unspecified"].agree) == (2, 1) and g["unspecified"].no_better_than_baseline
    assert r.items == 22 and r.agree == 15                        # the pooled figure is the sum, stated apart
    j = r.to_json_dict()
    assert [x["origin"] for x in j["groups"]] == ["real", "written", "unspecified"]
    assert j["groups"][0]["no_better_than_baseline"] is True


def test_groups_in_text_and_html(tmp_path, monkeypatch):
    from rich.console import Console

    from ptcheck.cli._audit import render_summary
    r = _grouped(tmp_path, monkeypatch)
    con = Console(record=True, width=200)
    render_summary(r, con)
    text = con.export_text()
    lines = text.splitlines()
    head = [ln for ln in lines if ln.strip().startswith("accuracy")]
    assert head[0].split()[:3] == ["accuracy,", "real", "decisions"] and "NO BETTER THAN BASELINE" in head[0]
    assert "written to the guideline" in head[1] and "80.0%" in head[1] and "all items pooled" in head[2]
    assert "real: accuracy 60.0% is no better than always answering non certify (60.0%)" in text
    assert "written: accuracy" not in text
    html = render_html(r)
    assert 'id="groups"' in html and "no better than always answering non certify" in html
    assert html.index(">real<") < html.index(">written<") < html.index(">unspecified<")


def test_partial_report_is_marked_in_html(tmp_path):
    cases = _cases(tmp_path / "c.jsonl", 30)
    stop = iter([True]).__next__
    monkey = audit_mod.CHUNK_LINES
    try:
        audit_mod.CHUNK_LINES = 10
        r = audit([cases], jobs=1, stop=stop)
    finally:
        audit_mod.CHUNK_LINES = monkey
    assert r.partial and r.stopped_at.line == 10
    html = render_html(r)
    assert "Partial report" in html and "after line 10" in html
