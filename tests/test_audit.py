"""The audit: numbers checked against independent hand computations, streaming with bad inputs, engine
failures on one case, the HTML report, jobs=2 vs jobs=1, and the `audit` command's exit codes."""
import json
import os
import re
import signal
from fractions import Fraction

import pytest
import typer
import yaml
from typer.testing import CliRunner

import ptcheck.audit._audit as audit_mod
from ptcheck.audit._audit import AuditAborted, audit, cohen_kappa
from ptcheck.audit._report_html import render_html
from ptcheck.cli._audit import register
from ptcheck.core._decide import CaseDecision, Finding, ItemDecision
from tests.conftest import ROOT, case_dict

SEEDS = ROOT / "cases/seeds"
REVIEW = {"non_certify": "upheld", "pend": "upheld", "certify": "overturned", "modify": "partially_overturned"}


# ---------------------------------------------------------------------------------------------
# a checker whose predictions are planned, so the expected numbers are known independently


class Planned:
    """Predicts plan[(case id, request id)]; raises for the case ids in `explode`."""

    def __init__(self, plan, explode=(), die=()):
        self.plan, self.explode, self.die = plan, set(explode), set(die)

    def check(self, case, *, explain=True):
        if case.id in self.explode:
            raise RuntimeError(f"boom on {case.id}")
        if case.id in self.die:
            os._exit(3)                                     # a crash of the inference engine
        items = []
        for r in case.requests:
            out = self.plan[(case.id, r.id)]
            items.append(ItemDecision(
                request=r.id, text=r.text, service=r.service, requested_visits=r.visits, outcome=out,
                certified_visits=4 if out == "modify" else None,
                review_outcome=REVIEW[out] if case.review.kind in ("imr", "iro") else None,
                findings=[Finding(rule=f"t.{out}", ruleset="t.rs", version="1", citation="Test Guide p. 1",
                                  effect="limit" if out == "modify" else out, message=f"planned {out} <b>")],
                missing=[], rulesets_run=["t.rs@1"] + (["t.extra@2"] if r.service == "chiropractic" else []),
                actual=r.actual))
        return CaseDecision(case=case.id, jurisdiction=case.jurisdiction, review_kind=case.review.kind,
                            review_date=None, rulesets=[], items=items)


# (predicted, actual, count): a UR table of 13 items
UR_TABLE = [("certify", "certify", 3), ("non_certify", "non_certify", 4), ("certify", "non_certify", 1),
            ("non_certify", "certify", 2), ("modify", "modify", 1), ("pend", "non_certify", 1),
            ("modify", "certify", 1)]


def _ur_batch(tmp_path, name="ur.jsonl"):
    """One case per item; TX for the first 5 items, CA after; chiropractic for every third."""
    lines, plan, n = [], {}, 0
    for pred, act, count in UR_TABLE:
        for _ in range(count):
            cid = f"u{n:02d}"
            service = "chiropractic" if n % 3 == 0 else "physical_therapy"
            d = case_dict(id=cid, jurisdiction="TX" if n < 5 else "CA",
                          requests=[{"id": "1", "service": service, "body_regions": ["lumbar"], "visits": 6,
                                     "actual": act}])
            lines.append(json.dumps(d))
            plan[(cid, "1")] = pred
            n += 1
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, plan


def test_numbers_match_a_hand_computation(tmp_path):
    path, plan = _ur_batch(tmp_path)
    r = audit([path], jobs=1, checker_factory=lambda: Planned(plan))
    n = sum(c for _, _, c in UR_TABLE)
    agree = sum(c for p, a, c in UR_TABLE if p == a)
    assert (r.cases, r.items, r.agree, r.error_count) == (13, n, agree, 0)
    assert r.accuracy == pytest.approx(agree / n)                               # 8/13
    # Cohen's kappa from its definition, with exact fractions
    labels = sorted({p for p, _, _ in UR_TABLE} | {a for _, a, _ in UR_TABLE})
    pred_tot = {lab: sum(c for p, _, c in UR_TABLE if p == lab) for lab in labels}
    act_tot = {lab: sum(c for _, a, c in UR_TABLE if a == lab) for lab in labels}
    p_o = Fraction(agree, n)
    p_e = sum(Fraction(pred_tot[lab] * act_tot[lab], n * n) for lab in labels)
    kappa = (p_o - p_e) / (1 - p_e)
    assert r.kappa == pytest.approx(float(kappa), abs=1e-12)
    # by hand: predicted totals certify 4, modify 2, non_certify 6, pend 1; actual 6, 1, 6, 0
    # p_o = 8/13 = 104/169, p_e = (4*6 + 2*1 + 6*6 + 1*0)/169 = 62/169, kappa = (104 - 62)/(169 - 62) = 42/107
    assert kappa == Fraction(42, 107)
    # baseline: always the majority actual label; certify 3+2+1 = 6 and non_certify 4+1+1 = 6 tie,
    # broken by label order (certify first)
    assert act_tot == {"certify": 6, "modify": 1, "non_certify": 6, "pend": 0}
    assert r.baseline_accuracy == pytest.approx(6 / 13) and r.baseline_label == "certify"
    # confusion: rows predicted, columns actual; the UR label space in full
    assert r.confusion.labels == ["certify", "modify", "non_certify", "pend"]
    for p, a, c in UR_TABLE:
        assert r.confusion.count(p, a) == c
    assert sum(map(sum, r.confusion.matrix)) == n
    assert r.confusion.count("pend", "certify") == 0
    # breakdowns
    by = {dim: {t.key: (t.items, t.agree) for t in tallies} for dim, tallies in r.breakdowns.items()}
    expect_tx = sum(1 for i in range(5) if _item_agrees(i))
    assert by["jurisdiction"] == {"TX": (5, expect_tx), "CA": (8, agree - expect_tx)}
    chiro = [i for i in range(n) if i % 3 == 0]
    assert by["service"]["chiropractic"] == (len(chiro), sum(_item_agrees(i) for i in chiro))
    assert by["ruleset"]["t.rs@1"] == (n, agree) and by["ruleset"]["t.extra@2"] == by["service"]["chiropractic"]
    assert by["review_kind"] == {"ur": (n, agree)}
    # disagreements: every one, with its rationale
    assert r.disagreement_count == len(r.disagreements) == n - agree
    d0 = r.disagreements[0]
    assert (d0.case, d0.request, d0.predicted, d0.actual, d0.line) == ("u07", "1", "certify", "non_certify", 8)
    assert d0.file == str(path)
    assert d0.rationale[0].rule == "t.certify" and d0.rationale[0].citation == "Test Guide p. 1"
    j = r.to_json_dict()
    assert set(j) >= {"items", "agree", "accuracy", "kappa", "baseline_accuracy", "confusion", "disagreements",
                      "errors"}
    json.dumps(j)


def _item_agrees(i: int) -> bool:
    flat = [(p, a) for p, a, c in UR_TABLE for _ in range(c)]
    return flat[i][0] == flat[i][1]


def test_kappa_against_a_published_example():
    # Cohen's kappa, textbook 2x2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o .7, p_e .5
    assert cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4)
    assert cohen_kappa([[5, 0], [0, 5]]) == pytest.approx(1.0)
    assert cohen_kappa([[7]]) is None and cohen_kappa([[0, 0], [0, 0]]) is None


def test_review_outcomes_are_compared_in_review_space(tmp_path):
    plan, lines = {}, []
    for cid, kind, pred, act in [("i1", "imr", "non_certify", "upheld"), ("i2", "imr", "pend", "upheld"),
                                 ("i3", "imr", "certify", "upheld"), ("i4", "imr", "modify", "partially_overturned"),
                                 ("i5", "imr", "non_certify", "overturned"), ("u1", "ur", "certify", "certify")]:
        lines.append(json.dumps(case_dict(id=cid, review={"kind": kind, "date": "2014-07-01"}, requests=[
            {"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 6, "actual": act}])))
        plan[(cid, "1")] = pred
    path = tmp_path / "imr.jsonl"
    path.write_text("\n".join(lines))
    r = audit([path], jobs=1, checker_factory=lambda: Planned(plan))
    assert (r.items, r.agree) == (6, 4)
    assert r.confusion.labels == ["certify", "modify", "non_certify", "pend", "upheld", "overturned",
                                  "partially_overturned"]
    assert r.confusion.count("upheld", "upheld") == 2 and r.confusion.count("overturned", "upheld") == 1
    assert r.confusion.count("upheld", "overturned") == 1 and r.confusion.count("certify", "certify") == 1
    assert {(d.case, d.predicted, d.outcome) for d in r.disagreements} == {("i3", "overturned", "certify"),
                                                                           ("i5", "upheld", "non_certify")}
    assert {t.key: t.items for t in r.breakdowns["review_kind"]} == {"imr": 5, "ur": 1}


# ---------------------------------------------------------------------------------------------
# the real engine


def test_seed_cases_with_the_engine():
    r = audit([SEEDS], jobs=1)
    assert (r.files, r.cases, r.cases_checked, r.items, r.agree) == (5, 5, 5, 8, 8)
    assert r.accuracy == 1.0 and r.kappa is None          # one label on both sides: kappa undefined
    assert r.baseline_label == "upheld" and r.baseline_accuracy == 1.0
    assert {t.key for t in r.breakdowns["jurisdiction"]} == {"CA", "TX"}
    assert "mtus.cpmtg.physical-medicine@2009.1" in {t.key for t in r.breakdowns["ruleset"]}


def test_real_disagreement_has_the_rationale(tmp_path):
    d = yaml.safe_load((SEEDS / "seed-001.yaml").read_text())
    d["requests"][0]["actual"] = "overturned"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    r = audit([tmp_path], jobs=1)
    assert r.items == 1 and r.agree == 0 and r.kappa == 0.0
    dis = r.disagreements[0]
    assert (dis.case, dis.predicted, dis.actual, dis.outcome) == ("seed-001", "upheld", "overturned", "non_certify")
    rules = {f.rule for f in dis.rationale}
    assert "pm.over-course-without-improvement" in rules
    assert any("98-99" in f.citation for f in dis.rationale) and all(f.message for f in dis.rationale)


def test_malformed_jsonl_lines_are_reported_and_the_rest_audited(tmp_path):
    good = case_dict(id="g1", requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"],
                                          "visits": 6, "actual": "certify"}])
    unknown = case_dict(id="bad-key")
    unknown["requests"][0]["vists"] = 3
    no_requests = case_dict(id="no-req")
    del no_requests["requests"]
    lines = [json.dumps(good), '{"id": "x", "jurisdiction": ', json.dumps(unknown), json.dumps(no_requests), "",
             json.dumps(dict(good, id="g2")), "[1, 2]"]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = audit([path], jobs=1)
    assert (r.cases, r.cases_valid, r.cases_checked, r.items, r.error_count) == (6, 2, 2, 2, 4)
    by_line = {e.line: e for e in r.errors}
    assert sorted(by_line) == [2, 3, 4, 7]
    assert all(e.file == str(path) and e.kind == "invalid" for e in r.errors)
    assert "invalid JSON" in by_line[2].messages[0] and by_line[2].case is None
    # the position is the record's: file, line and the column of its first problem (not words in its message)
    assert by_line[2].column == len('{"id": "x", "jurisdiction": ') + 1 and by_line[2].messages[0].startswith("Y001")
    assert by_line[3].case == "bad-key" and "unknown key 'vists'" in by_line[3].messages[0]
    assert "did you mean 'visits'" in by_line[3].messages[0]
    assert by_line[4].case == "no-req" and "required key 'requests' is missing" in by_line[4].messages[0]
    assert "mapping" in by_line[7].messages[0]


def test_invalid_yaml_document_reports_the_document_line(tmp_path):
    a = case_dict(id="y1")
    b = case_dict(id="y2")
    b["requests"][0]["body_regions"] = ["neck"]
    text = "---\n" + yaml.safe_dump(a) + "---\n" + yaml.safe_dump(b)
    (tmp_path / "multi.yaml").write_text(text)
    r = audit([tmp_path], jobs=1)
    assert (r.cases, r.cases_checked, r.error_count) == (2, 1, 1)
    e = r.errors[0]
    second_doc = text.splitlines().index("---", 1) + 2    # the document's first line after its '---'
    assert e.case == "y2" and e.line == second_doc and "unknown body region 'neck'" in e.messages[0]


def test_engine_exception_on_one_case_is_an_error_not_a_crash(tmp_path):
    path, plan = _ur_batch(tmp_path)
    for jobs in (1, 2):
        r = audit([path], jobs=jobs, checker_factory=lambda: Planned(plan, explode={"u03"}))
        assert (r.cases, r.cases_checked, r.items, r.error_count) == (13, 12, 12, 1)
        e = r.errors[0]
        assert (e.kind, e.case, e.line) == ("engine", "u03", 4) and "boom on u03" in e.messages[0]


class Segfaulting(Planned):
    """Fault injection: the worker process kills itself with SIGSEGV on the given case ids, as the
    inference engine does on some cases (the audit must not depend on the real crash to be tested)."""

    def check(self, case, *, explain=True):
        if case.id in self.die:
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().check(case, explain=explain)


def test_a_case_that_kills_its_worker_is_one_error_and_the_audit_finishes(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 4)
    path, plan = _ur_batch(tmp_path)
    killers = {"u05", "u09"}
    r = audit([path], jobs=2, checker_factory=lambda: Segfaulting(plan, die=killers))
    assert (r.cases, r.cases_valid, r.cases_checked, r.error_count) == (13, 13, 11, 2)
    assert [(e.kind, e.case, e.line, e.file) for e in r.errors] == [("engine", "u05", 6, str(path)),
                                                                    ("engine", "u09", 10, str(path))]
    assert all(e.messages == ["the engine crashed (signal 11) on this case"] for e in r.errors)
    # every other case is audited exactly as if the two had merely raised
    same = audit([path], jobs=1, checker_factory=lambda: Planned(plan, explode=killers))
    a, b = r.to_json_dict(), same.to_json_dict()
    a.pop("errors"), b.pop("errors")
    assert a == b


@pytest.mark.parametrize("listed", [0, 1, 3])
def test_a_capped_audit_with_a_killing_case_lists_what_the_uncapped_lists_first(tmp_path, monkeypatch, listed):
    """max_listed caps disagreements and errors each at N: a chunk re-run case by case (a worker died) lists
    its errors whatever room the disagreements have left (u08 raises, u10 kills its worker: chunk u08-u11
    comes after the disagreement u07 is merged, so with N = 1 no disagreement has room, but u08's error does)."""
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 4)
    path, plan = _ur_batch(tmp_path)

    def factory():
        return Segfaulting(plan, explode={"u08"}, die={"u10"})
    # one worker: each chunk is sent after the one before is merged, so the room left shrinks as it goes
    r = audit([path], jobs=1, in_process=False, max_listed=listed, checker_factory=factory)
    full = audit([path], jobs=2, checker_factory=factory).to_json_dict()
    assert full["disagreement_count"] > 3 and [e["case"] for e in full["errors"]] == ["u08", "u10"]
    want = dict(full, disagreements=full["disagreements"][:listed], errors=full["errors"][:listed], truncated=True)
    assert r.to_json_dict() == want


def test_a_case_that_kills_even_in_one_worker_is_isolated_the_same(tmp_path, monkeypatch):
    path, plan = _ur_batch(tmp_path)                      # one chunk of 13: the whole chunk is re-run
    r = audit([path], jobs=1, in_process=False, checker_factory=lambda: Segfaulting(plan, die={"u00"}))
    assert (r.cases, r.cases_checked, r.error_count) == (13, 12, 1) and r.errors[0].case == "u00"


def _dies_at_start():
    os.kill(os.getpid(), signal.SIGSEGV)


def test_a_worker_that_dies_while_starting_aborts_instead_of_blaming_cases(tmp_path):
    path, plan = _ur_batch(tmp_path)
    calls = []

    def factory():
        calls.append(1)
        if len(calls) > 1:                                 # the parent's checker builds; the workers' die
            _dies_at_start()
        return Planned(plan)
    with pytest.raises(AuditAborted, match="died while starting .signal 11"):
        audit([path], jobs=2, checker_factory=factory)


def test_missing_path_raises():
    from ptcheck import PtcheckError
    with pytest.raises(PtcheckError, match="no such file"):
        audit(["no/such/dir"], jobs=1)


def test_jobs_2_gives_the_same_report_as_jobs_1(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 7)     # several chunks, so both workers take some
    monkeypatch.setattr(audit_mod, "CHUNK_FILES", 2)
    lines = []
    for i in range(40):
        visits = [4, 6, 8, 12, 20][i % 5]
        prior = [[], [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 12}],
                 [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": None}]][i % 3]
        d = case_dict(id=f"v{i}", jurisdiction="TX" if i % 4 == 0 else "CA",
                      review={"kind": ["ur", "imr", "iro"][i % 3] if i % 4 == 0 else ["ur", "imr"][i % 2],
                              "date": "2014-07-01"},
                      diagnoses=[{"icd9": "847.2"}] if i % 2 else [{"icd10": "M54.16"}],
                      requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"],
                                 "visits": visits, "actual": ["certify", "modify", "non_certify"][i % 3]
                                 if (["ur", "imr", "iro"][i % 3] if i % 4 == 0 else ["ur", "imr"][i % 2]) == "ur"
                                 else ["upheld", "overturned"][i % 2]}],
                      history={"therapy": prior})
        lines.append(json.dumps(d))
    lines.insert(13, "not json")
    (tmp_path / "batch.jsonl").write_text("\n".join(lines) + "\n")
    for f in SEEDS.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    seen = []
    one = audit([tmp_path], jobs=1)
    two = audit([tmp_path], jobs=2, progress=lambda done, total: seen.append((done, total)))
    assert one.cases == 46 and one.error_count == 1 and one.disagreement_count > 0
    assert one.to_json_dict() == two.to_json_dict()
    assert seen[-1] == (46, 46) and [s[0] for s in seen] == sorted(s[0] for s in seen)


def test_max_listed_caps_the_lists_but_not_the_counts(tmp_path):
    path, plan = _ur_batch(tmp_path)
    r = audit([path], jobs=1, checker_factory=lambda: Planned(plan), max_listed=2)
    assert r.disagreement_count == 5 and len(r.disagreements) == 2 and r.truncated


# ---------------------------------------------------------------------------------------------
# HTML


def test_html_report_is_self_contained_and_escaped(tmp_path):
    path, plan = _ur_batch(tmp_path)
    lines = path.read_text().splitlines()
    d = json.loads(lines[7])
    d["requests"][0]["text"] = "<script>alert('x')</script> PT"
    lines[7] = json.dumps(d)
    lines.append("{broken")
    path.write_text("\n".join(lines) + "\n")
    r = audit([path], jobs=1, checker_factory=lambda: Planned(plan))
    html = render_html(r)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<svg" in html and 'id="confusion"' in html and "background-color: #" in html
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I) and "@import" not in html
    assert "&lt;script&gt;" in html and "planned certify &lt;b&gt;" in html
    assert "Test Guide p. 1" in html and "u07" in html and "invalid JSON" in html
    assert "61.5%" in html                                   # accuracy 8/13


def test_html_report_with_no_items():
    from ptcheck.audit import Tally
    html = render_html(Tally().report())
    assert "nothing to compare" in html and "<svg" not in html


# ---------------------------------------------------------------------------------------------
# command line


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app


runner = CliRunner()


def test_cli_summary_and_exit_0(tmp_path):
    d = yaml.safe_load((SEEDS / "seed-001.yaml").read_text())
    d["requests"][0]["actual"] = "overturned"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    (tmp_path / "s.yaml").write_text((SEEDS / "seed-000.yaml").read_text())
    html = tmp_path / "out" / "report.html"
    html.parent.mkdir()
    r = runner.invoke(_app(), ["audit", str(tmp_path / "c.yaml"), str(tmp_path / "s.yaml"), "--jobs", "1",
                               "--html", str(html)])
    assert r.exit_code == 0, r.output
    for word in ("accuracy", "kappa", "baseline", "Confusion matrix", "Agreement by jurisdiction", "seed-001",
                 "pm.over-course", "Disagreements (1)"):
        assert word in r.stdout
    assert html.exists() and "<svg" in html.read_text() and f"wrote {html}" in r.stderr


def test_cli_json_and_exit_1_on_invalid_input(tmp_path):
    good = case_dict(id="g1", requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"],
                                          "visits": 6, "actual": "certify"}])
    (tmp_path / "b.jsonl").write_text(json.dumps(good) + "\n{nope\n")
    r = runner.invoke(_app(), ["audit", str(tmp_path / "b.jsonl"), "--json", "--jobs", "2"])
    assert r.exit_code == 1
    j = json.loads(r.stdout)
    assert j["items"] == 1 and j["errors"][0]["line"] == 2 and "invalid JSON" in j["errors"][0]["messages"][0]
    assert "b.jsonl:2" in r.stderr and "1 case(s) not audited" in r.stderr


def test_cli_max_listed(tmp_path):
    d = yaml.safe_load((SEEDS / "seed-001.yaml").read_text())
    d["requests"][0]["actual"] = "overturned"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    r = runner.invoke(_app(), ["audit", str(tmp_path), "--json", "--jobs", "1", "--max-listed", "0"])
    assert r.exit_code == 0
    j = json.loads(r.stdout)
    assert j["disagreement_count"] == 1 and j["disagreements"] == [] and j["truncated"] is True
    r = runner.invoke(_app(), ["audit", str(tmp_path), "--jobs", "1", "--max-listed", "0"])
    assert "... 1 more: 1 not listed (--max-listed), counted" in r.stdout      # not "see --json": it is not there


def test_cli_exit_2_when_it_cannot_run(tmp_path):
    r = runner.invoke(_app(), ["audit", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = runner.invoke(_app(), ["audit", str(SEEDS), "--rules", str(tmp_path / "nope")])
    assert r.exit_code == 2
    r = runner.invoke(_app(), ["audit", str(SEEDS), "--jobs", "0"])
    assert r.exit_code == 2
    bad_rules = tmp_path / "rules"
    bad_rules.mkdir()
    (bad_rules / "broken.yaml").write_text("id: [unclosed\n")
    r = runner.invoke(_app(), ["audit", str(SEEDS), "--rules", str(bad_rules), "--jobs", "1"])
    assert r.exit_code == 2 and "error" in r.stderr


# ---------------------------------------------------------------------------------------------
# spooling the disagreements (memory flat however many are listed)


def test_a_spooled_report_gives_every_disagreement_as_an_unspooled_one_does(tmp_path, monkeypatch):
    path, plan = _ur_batch(tmp_path)
    d = json.loads(path.read_text().splitlines()[7])                  # predicted certify, actual non-certify
    d["requests"][0]["text"] = "PT \u2028 l\u00e9ger \"quoted\"\nnext"      # what JSON must escape, or must not
    path.write_text(path.read_text() + json.dumps(d | {"id": "odd"}) + "\n")
    plan[("odd", "1")] = plan[(d["id"], "1")]
    plain = audit([path], jobs=1, checker_factory=lambda: Planned(plan))
    monkeypatch.setattr("ptcheck.audit._tally.SPOOL_KEEP", 2)
    spooled = audit([path], jobs=1, checker_factory=lambda: Planned(plan), spool=True)
    assert plain.disagreement_count == spooled.disagreement_count == 6
    assert len(spooled.disagreements) == 2 and spooled.spooled and spooled.listed == 6 and not plain.spooled
    assert list(spooled.iter_disagreements()) == plain.disagreements
    assert spooled.to_json() == plain.to_json() == json.dumps(plain.to_json_dict(), indent=2, ensure_ascii=False)
    assert spooled.to_json_dict() == plain.to_json_dict()
    assert render_html(spooled) == render_html(plain)
    assert list(spooled.iter_disagreements()) == plain.disagreements     # read back twice: the same
    none = plain.model_copy(update={"disagreements": []})
    assert none.to_json() == json.dumps(none.to_json_dict(), indent=2, ensure_ascii=False)


def test_the_cli_spools_and_prints_the_same_report(tmp_path, monkeypatch):
    for f in SEEDS.iterdir():
        d = yaml.safe_load(f.read_text())
        for req in d["requests"]:
            req["actual"] = "overturned"              # every seed item disagrees
        (tmp_path / f.name).write_text(yaml.safe_dump(d))
    expected = audit([tmp_path], jobs=1)
    assert expected.disagreement_count > 4
    monkeypatch.setattr("ptcheck.audit._tally.SPOOL_KEEP", 1)
    html = tmp_path / "r.html"
    r = runner.invoke(_app(), ["audit", str(tmp_path), "--jobs", "2", "--json", "--html", str(html)])
    assert r.exit_code == 0, r.output
    assert r.stdout == expected.to_json() + "\n"
    assert html.read_text(encoding="utf-8") == render_html(expected)


@pytest.mark.parametrize("line, column, words", [
    ('{"id": "a" "b": 1}', 12, "a comma is missing"),
    ('{"id": "a",}', 12, "expected a key in double quotes (a comma before a closing brace is not allowed)"),
    ('{"id": "a",,"b": 1}', 12, "expected a key in double quotes"),                # no closing brace here
    ('{"id": [1,]}', 11, "expected a value (a number, text in double quotes, true, false, null, a list or an object) "
                         "(a comma before a closing bracket is not allowed)"),
    ('{"a" 1}', 6, "a colon is missing after a key"),
    ('{"a": "b', 7, "text in double quotes is not closed"),        # not "control character": the line end
    ('{"a": 1}x', 9, "more text after the end of the value"),
    ('{"a": "b\\qc"}', 9, "an invalid backslash escape"),
])
def test_an_invalid_json_line_is_reported_alike_by_check_and_audit(tmp_path, line, column, words):
    """Both commands name the line and column and say what is wrong in words: no delimiter hidden as '…'
    by redaction, no message ending in a dangling 'at' (json's own 'Unterminated string starting at')."""
    from ptcheck.cli import app
    path = tmp_path / "one.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(path)])
    audited = runner.invoke(app, ["audit", str(path)])
    assert checked.exit_code == 1 and audited.exit_code == 1
    check_line = next(x for x in checked.output.splitlines() if "Y001" in x)
    audit_line = next(x for x in audited.output.splitlines() if "Y001" in x)
    assert check_line.startswith(f"{path}:1:{column}: Y001 invalid JSON: {words}")
    assert audit_line == check_line                 # file:line:column: code words, from both commands
    assert ("is not allowed" in check_line) == ("is not allowed" in words)
    assert "…" not in check_line and not check_line.rstrip().endswith(" at")


def test_cli_ruleset_pins_a_version_for_every_case(tmp_path):
    """--ruleset ID@VERSION audits as `check --ruleset` decides: the same report as the library's audit with a
    Checker pinned so, and (for a pin that moves decisions) not the unpinned report."""
    from ptcheck import Checker, Library
    pin = "mtus.cpmtg.physical-medicine@2017.1"
    cases = str(ROOT / "cases")
    r = runner.invoke(_app(), ["audit", cases, "--json", "--jobs", "2", "--ruleset", pin])
    assert r.exit_code == 0, r.output
    lib = Library.load()
    pinned = audit([cases], jobs=1, checker_factory=lambda: Checker(lib, {pin.split("@")[0]: "2017.1"}))
    assert json.loads(r.stdout) == json.loads(pinned.to_json())
    assert json.loads(r.stdout)["agree"] != audit([cases], jobs=1).agree
    bad = runner.invoke(_app(), ["audit", cases, "--ruleset", "nope@1"])
    assert bad.exit_code == 2 and bad.stderr.splitlines()[0] == "error: no rule set 'nope@1'"
    bad = runner.invoke(_app(), ["audit", cases, "--ruleset", "mtus.cpmtg.physical-medicine@9999"])
    assert bad.exit_code == 2 and "(its versions: 2009.1, 2016.1, 2017.1)" in bad.stderr
    for args in (["@2017.1"], [pin, "mtus.cpmtg.physical-medicine@2009.1"]):
        bad = runner.invoke(_app(), ["audit", cases, *[x for a in args for x in ("--ruleset", a)]])
        assert bad.exit_code == 2 and "Invalid value for --ruleset" in bad.output, args


def test_a_resume_with_other_pins_says_so(tmp_path):
    path, plan = _ur_batch(tmp_path)
    ck = tmp_path / "ck.json"
    pin = ("mtus.cpmtg.physical-medicine", "2017.1")
    from ptcheck import Checker, Library
    lib = Library.load()
    audit([path], jobs=1, checkpoint=ck, stop=lambda: True, checker_factory=lambda: Checker(lib, dict([pin])))
    assert ck.exists()
    with pytest.raises(audit_mod.CheckpointError, match=r"written with --ruleset mtus.cpmtg.physical-medicine@2017.1"
                                                        r", resumed without --ruleset: resume with the same"):
        audit([path], jobs=1, checkpoint=ck, resume=True, checker_factory=lambda: Checker(lib))
