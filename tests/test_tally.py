"""The public tally (ptcheck.audit.Tally): `ptcheck audit --tally-out` and `ptcheck audit merge` give the whole's
report from the tallies of its parts (2-way and 8-way splits, terminal, JSON and HTML, byte for byte apart from
provenance); merge is associative; a damaged or edited tally is refused. Checkpoints that cannot lie (issue 19
item 7): each kind of damage is refused with exit 2 and one line naming the checkpoint, never merged."""
import json
import re

import pytest
from typer.testing import CliRunner

import ptcheck.audit._audit as audit_mod
from ptcheck.audit import Tally, TallyError, audit
from ptcheck.audit._tallyfile import _dump, _sha
from ptcheck.cli import app
from tests.conftest import ROOT, case_dict

runner = CliRunner()


def _lines(n, start=0):
    """n varied cases: UR and IMR, CA and TX, real / written / unspecified origins, some invalid."""
    out = []
    for i in range(start, start + n):
        if i % 17 == 5:
            out.append('{"id": "bad%d", "jurisdiction": "CA", "requests": [' % i)          # invalid JSON
            continue
        imr = i % 3 == 0
        tx = i % 4 == 1
        prior = [[], [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 12}],
                 [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 4}]][i % 3]
        actual = ["upheld", "overturned", "partially_overturned"][i % 3] if imr else \
            ["certify", "modify", "non_certify"][i % 3]
        kind = ("iro" if tx else "imr") if imr else "ur"
        d = case_dict(id=f"c{i:04d}", jurisdiction="TX" if tx else "CA", review={"kind": kind, "date": "2014-07-01"},
                      diagnoses=[{"icd9": "847.2"}] if i % 2 else [{"icd10": "M54.16"}],
                      requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"],
                                 "visits": [4, 6, 8, 12, 20][i % 5], "actual": actual}],
                      history={"therapy": prior})
        if i % 5 < 3:
            d["origin"] = {"outcome": ["real", "written", "real"][i % 5]}
        out.append(json.dumps(d))
    return out


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """8 JSONL parts of 40 documents, and the 2-way split of the same documents (4 parts each)."""
    root = tmp_path_factory.mktemp("parts")
    eight = []
    for k in range(8):
        p = root / f"part-{k}.jsonl"
        p.write_text("\n".join(_lines(40, 40 * k)) + "\n")
        eight.append(p)
    return eight


def _json_without_provenance(text):
    doc = json.loads(text)
    assert "provenance" in doc
    del doc["provenance"]
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _whole(paths, *extra):
    r = runner.invoke(app, ["audit", *map(str, paths), "--jobs", "1", *extra])
    assert r.exit_code == 1, r.stderr          # the invalid lines are errors
    return r


@pytest.mark.parametrize("ways", [2, 8])
@pytest.mark.parametrize("listed", ["1000", "7"])
def test_merge_of_a_split_equals_the_whole(parts, tmp_path, ways, listed):
    groups = [parts[k * 8 // ways:(k + 1) * 8 // ways] for k in range(ways)]
    tallies = []
    for k, g in enumerate(groups):
        t = tmp_path / f"{k}.tally"
        r = runner.invoke(app, ["audit", *map(str, g), "--jobs", "1", "--max-listed", listed, "--tally-out", str(t)])
        assert r.exit_code == 1 and f"wrote {t}" in r.stderr
        tallies.append(str(t))
    whole_json = _whole(parts, "--json", "--max-listed", listed).stdout
    whole = json.loads(whole_json)
    assert whole["disagreement_count"] > 40 and whole["error_count"] > 10 and len(whole["groups"]) == 3
    assert whole["confusion"]["labels"] == ["certify", "modify", "non_certify", "pend", "upheld", "overturned",
                                            "partially_overturned"]
    merged = runner.invoke(app, ["audit", "merge", *tallies, "--json", "--max-listed", listed,
                                 "--html", str(tmp_path / "m.html")])
    assert merged.exit_code == 1, merged.stderr
    assert json.loads(merged.stdout)["provenance"] == {"merged_from": tallies}
    assert _json_without_provenance(merged.stdout) + "\n" == whole_json            # byte for byte
    # the terminal report: the same lines, then the provenance line
    text = runner.invoke(app, ["audit", "merge", *tallies, "--max-listed", listed]).stdout
    whole_text = _whole(parts, "--max-listed", listed, "--html", str(tmp_path / "w.html")).stdout
    assert text.startswith(whole_text) and text[len(whole_text):].startswith("merged from ")
    assert text.count("\n") == whole_text.count("\n") + 1
    # the HTML page: the same but its provenance paragraph
    m_html = (tmp_path / "m.html").read_text()
    w_html = (tmp_path / "w.html").read_text()
    assert 'id="provenance"' in m_html and 'id="provenance"' not in w_html
    assert re.sub(r'<p class="muted" id="provenance">.*?</p>\n', "", m_html, flags=re.S) == w_html


def test_merge_is_associative_and_the_empty_tally_is_neutral(parts, tmp_path):
    ts = [audit([p], jobs=1, tally_out=tmp_path / f"{k}.t") for k, p in enumerate(parts[:3])]
    a, b, c = (Tally.read(tmp_path / f"{k}.t") for k in range(3))
    left = Tally.merged([Tally.merged([a, b]), c]).to_text()
    a, b, c = (Tally.read(tmp_path / f"{k}.t") for k in range(3))
    right = Tally.merged([a, Tally.merged([b, c])]).to_text()
    assert left == right
    a = Tally.read(tmp_path / "0.t")
    assert Tally().merge(a).to_text() == a.to_text() == Tally.merged([a, Tally()]).to_text()
    assert ts[0].to_json_dict() == Tally.read(tmp_path / "0.t").report().to_json_dict()    # read back: same report


def test_group_baselines_survive_a_merge(tmp_path):
    """A group's majority baseline needs its actual labels' counts: merging per-part figures (accuracy,
    baseline) could not give it, the tally's per-group matrices do."""
    path = tmp_path / "all.jsonl"
    path.write_text("\n".join(_lines(60)) + "\n")
    whole = audit([path], jobs=1)
    halves = []
    for k, chunk in enumerate((_lines(30), _lines(30, 30))):
        p = tmp_path / f"h{k}.jsonl"
        p.write_text("\n".join(chunk) + "\n")
        halves.append(audit([p], jobs=1, tally_out=tmp_path / f"h{k}.t"))
    merged = Tally.merged([Tally.read(tmp_path / "h0.t"), Tally.read(tmp_path / "h1.t")]).report()
    assert [g.model_dump() for g in merged.groups] == [g.model_dump() for g in whole.groups]
    assert merged.kappa == whole.kappa and merged.baseline_label == whole.baseline_label
    # the halves' own baselines differ from the whole's somewhere: the merge did not just reuse them
    assert any(h.groups != whole.groups for h in halves)


# ---------------------------------------------------------------------------------------------
# damaged tallies


def _tally_file(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text("\n".join(_lines(20)) + "\n")
    audit([p], jobs=1, tally_out=tmp_path / "t.tally")
    return tmp_path / "t.tally"


def _forge(path, change):
    """Edit the tally inside the file and write a matching checksum (a deliberate edit, not damage)."""
    doc = json.loads(path.read_text())
    change(doc["tally"])
    doc["sha256"] = _sha(_dump(doc["tally"]))
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage, words", [
    (lambda t: t.__setitem__("agree", 10 ** 30), "agree: 1000000000000000000000000000000 is more than any audit"),
    (lambda t: t.__setitem__("confusion", "many"), "confusion: wrong type"),
    (lambda t: t["confusion"][0].__setitem__(0, "3"), "confusion.0.0: wrong type"),
    (lambda t: t.pop("groups"), "groups: missing"),
    (lambda t: t.__setitem__("agree", t["agree"] + 1), "does not add up (agree is the confusion matrix's diagonal)"),
    (lambda t: t.__setitem__("cases", t["cases"] + 5), "does not add up (error_count = cases - cases_checked)"),
    (lambda t: t["groups"]["real"].__setitem__("decided", 10 ** 6), "does not add up (groups.real.decided"),
    (lambda t: t.__setitem__("format", "x"), "is not a ptcheck audit tally"),
])
def test_an_edited_tally_is_refused_naming_the_field(tmp_path, damage, words):
    t = _tally_file(tmp_path)
    _forge(t, damage)
    with pytest.raises(TallyError, match=re.escape(words)):
        Tally.read(t)
    r = runner.invoke(app, ["audit", "merge", str(t), str(t), "--json"])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {t}: ") and r.stderr.count("\n") == 1 and words in r.stderr


def test_a_damaged_tally_is_refused_by_its_checksum(tmp_path):
    t = _tally_file(tmp_path)
    t.write_text(t.read_text().replace('"items":', '"items": 1', 1).replace('"items": 1', '"items":', 1)
                 .replace('"agree":', '"agree":1', 1))
    r = runner.invoke(app, ["audit", "merge", str(t)])
    assert r.exit_code == 2 and "the checksum does not match the content" in r.stderr and r.stdout == ""
    t.write_text("{not json")
    assert "not a tally: the JSON cannot be read" in runner.invoke(app, ["audit", "merge", str(t)]).stderr
    r = runner.invoke(app, ["audit", "merge", str(tmp_path / "none.tally")])
    assert r.exit_code == 2 and "cannot read the tally" in r.stderr


# ---------------------------------------------------------------------------------------------
# checkpoints that cannot lie (issue 19 item 7)


@pytest.fixture
def stopped(tmp_path, monkeypatch):
    """An audit of 60 cases stopped after 20 (chunks of 10) with its checkpoint; the full run's JSON."""
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 10)
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(_lines(60)) + "\n")
    ck = tmp_path / "audit.ck"
    calls = iter([False, True])
    r = audit([cases], jobs=1, checkpoint=ck, stop=lambda: next(calls, True), max_listed=1000)
    assert r.partial and r.cases == 20 and ck.exists()
    return cases, ck


def _resume(cases, ck):
    return runner.invoke(app, ["audit", str(cases), "--jobs", "1", "--json", "--checkpoint", str(ck), "--resume"])


def _forge_checkpoint(ck, change):
    doc = json.loads(ck.read_text())
    change(doc["checkpoint"])
    doc["sha256"] = _sha(_dump(doc["checkpoint"]))
    ck.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))


def test_an_intact_checkpoint_resumes_to_the_full_report(stopped):
    cases, ck = stopped
    r = _resume(cases, ck)
    assert r.exit_code == 1 and json.loads(r.stdout) == audit([cases], jobs=1, max_listed=1000).to_json_dict()


@pytest.mark.parametrize("damage, words", [
    # the position reset to 0 would count the first 20 cases twice
    (lambda b: b["position"].update(file_index=0, line=0), "position: the inputs hold 0 case(s) before it, the tally counts 20"),
    (lambda b: b["position"].update(line=10), "position: the inputs hold 10 case(s) before it, the tally counts 20"),
    # an index past the end would report a partial audit as complete
    (lambda b: b["position"].update(file_index=5), "position: file index 5 is past the end of the 1 input file(s)"),
    (lambda b: b["position"].update(line=900), "position: line 900 is past the end of"),
    (lambda b: b["tally"].update(agree=10 ** 30), "tally.agree: 1000000000000000000000000000000 is more than any audit"),
    (lambda b: b.pop("tally"), "tally: missing"),
    (lambda b: b["tally"].update(confusion="[[1, 2]]"), "tally.confusion: wrong type"),
    (lambda b: b["tally"]["confusion"].__setitem__(2, ["1"] * 7), "tally.confusion.2.0: wrong type"),
    (lambda b: b["position"].update(line=-4), "position.line: "),
    (lambda b: b["position"].update(line="20"), "position.line: wrong type"),
    (lambda b: b["tally"].update(items=b["tally"]["items"] + 3), "tally does not add up"),
])
def test_a_damaged_checkpoint_is_refused_and_never_merged(stopped, damage, words):
    cases, ck = stopped
    _forge_checkpoint(ck, damage)
    r = _resume(cases, ck)
    assert r.exit_code == 2 and r.stdout == "", r.stdout[:300]
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {ck}: ") and words in r.stderr, r.stderr
    assert "start again without --resume" in r.stderr


def test_an_edited_checkpoint_fails_its_checksum(stopped):
    cases, ck = stopped
    ck.write_text(ck.read_text().replace('"file_index":1', '"file_index":0').replace('"line":20', '"line":0'))
    r = _resume(cases, ck)
    assert r.exit_code == 2 and "the checksum does not match the content" in r.stderr and r.stdout == ""
    ck.write_text(ck.read_text()[:-40])                 # cut short
    r = _resume(cases, ck)
    assert r.exit_code == 2 and "not a readable checkpoint" in r.stderr and r.stderr.count("\n") == 1


def test_the_checkpoint_holds_the_public_tally_serialisation(stopped):
    _, ck = stopped
    body = json.loads(ck.read_text())["checkpoint"]
    t = Tally.from_state(body["tally"])
    assert t.cases == 20 and _dump(body["tally"]) == Tally.from_text(t.to_text()).to_text() == t.to_text()


def test_the_bundled_cases_merge_by_folder(tmp_path):
    """Folders of YAML cases as parts: the report of the whole folder."""
    folders = [ROOT / "cases" / "seeds", ROOT / "cases" / "real"]
    for k, f in enumerate(folders):
        assert runner.invoke(app, ["audit", str(f), "--jobs", "1", "--tally-out", str(tmp_path / f"{k}.t")]).exit_code == 0
    whole = runner.invoke(app, ["audit", *map(str, folders), "--jobs", "1", "--json"])
    merged = runner.invoke(app, ["audit", "merge", str(tmp_path / "0.t"), str(tmp_path / "1.t"), "--json"])
    assert whole.exit_code == merged.exit_code == 0
    assert _json_without_provenance(merged.stdout) + "\n" == whole.stdout
