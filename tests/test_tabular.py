"""CSV and Parquet input (engine/audit/_tabular.py): the same cases as JSON Lines give the same report; every
problem is at its file, row and column; a resumed tabular audit equals one run."""
import csv
import json

import pytest
from typer.testing import CliRunner

import ptcheck.audit._audit as audit_mod
from ptcheck.audit import audit
from ptcheck.audit._tabular import CASE_COLUMNS, ITEM_COLUMNS
from ptcheck.cli import app
from tests.conftest import case_dict

runner = CliRunner()
pa = pytest.importorskip("pyarrow", reason="Parquet input needs pyarrow (the test extra installs it)")
import pyarrow.parquet as pq  # noqa: E402


def _cases(n=45):
    """Cases of one or two items, with origins, histories and a multi-code diagnosis list."""
    out = []
    for i in range(n):
        imr = i % 3 == 0
        prior = [[], [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 12}]][i % 2]
        actual = ["upheld", "overturned"][i % 2] if imr else ["certify", "modify", "non_certify"][i % 3]
        reqs = [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": [4, 6, 8, 12, 20][i % 5],
                 "actual": actual, "text": f"PT {[4, 6, 8, 12, 20][i % 5]} visits, lumbar"}]
        if i % 4 == 1:
            reqs.append({"id": "2", "service": "physical_therapy", "body_regions": ["cervical", "lumbar"],
                         "frequency_per_week": 2, "duration_weeks": 3, "actual": "certify"})
        d = case_dict(id=f"c{i:03d}", review={"kind": "imr" if imr else "ur", "date": "2014-07-01"},
                      diagnoses=[{"icd9": "847.2"}, {"text": "low back pain"}] if i % 2 else [{"icd10": "M54.16"}],
                      requests=reqs, history={"therapy": prior})
        if i % 3 != 2:
            d["origin"] = {"outcome": ["real", "written"][i % 2]}
        out.append(d)
    return out


def _rows(cases):
    """The documented mapping: one row per item; the case's own cells repeated on each of its rows."""
    columns = ["id", "jurisdiction", "review.kind", "review.date", "origin.outcome", "diagnoses", "history",
               "request.id", "request.text", "request.service", "request.body_regions", "request.visits",
               "request.frequency_per_week", "request.duration_weeks", "request.actual"]
    rows = []
    for c in cases:
        for r in c["requests"]:
            rows.append({"id": c["id"], "jurisdiction": c["jurisdiction"], "review.kind": c["review"]["kind"],
                         "review.date": c["review"]["date"], "origin.outcome": (c.get("origin") or {}).get("outcome"),
                         "diagnoses": json.dumps(c["diagnoses"]), "history": json.dumps(c["history"]),
                         **{f"request.{k}": r.get(k) for k in ("id", "text", "service", "visits", "frequency_per_week",
                                                               "duration_weeks", "actual")},
                         "request.body_regions": ";".join(r["body_regions"])})
    return columns, rows


def _write_csv(path, columns, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r[c] for c in columns])


def _write_parquet(path, columns, rows):
    table = pa.table({c: [r.get(c) for r in rows] for c in columns})
    pq.write_table(table, str(path), row_group_size=16)


def _comparable(report, keep_lines):
    d = report.to_json_dict()
    for x in d["disagreements"] + d["errors"]:
        x.pop("file")
        if not keep_lines:
            x.pop("line")
    return d


@pytest.mark.parametrize("two_items", [False, True])
def test_csv_and_parquet_give_the_jsonl_report(tmp_path, two_items):
    cases = [c for c in _cases() if two_items or len(c["requests"]) == 1]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    columns, rows = _rows(cases)
    _write_csv(tmp_path / "c.csv", columns, rows)
    _write_parquet(tmp_path / "c.parquet", columns, rows)
    want = audit([tmp_path / "c.jsonl"], jobs=1)
    assert want.disagreement_count > 10 and len(want.groups) == 3 and want.error_count == 0
    for name in ("c.csv", "c.parquet"):
        got = audit([tmp_path / name], jobs=1)
        # one item per case: row n is line n; otherwise only the file and line fields differ
        assert _comparable(got, not two_items) == _comparable(want, not two_items), name
        assert got.disagreements[0].file == str(tmp_path / name)


def test_a_folder_of_tabular_files_is_read_and_the_cli_takes_them(tmp_path):
    cases = _cases(12)
    columns, rows = _rows(cases)
    _write_csv(tmp_path / "a.csv", columns, rows[:8])
    _write_parquet(tmp_path / "b.parquet", columns, rows[8:])
    r = runner.invoke(app, ["audit", str(tmp_path), "--json", "--jobs", "1"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["files"] == 2 and doc["cases"] == 12


def _one_bad(tmp_path, mutate, name="bad.csv"):
    cases = _cases(6)
    columns, rows = _rows(cases)
    columns, rows = mutate(columns, rows) or (columns, rows)
    _write_csv(tmp_path / name, columns, rows)
    r = runner.invoke(app, ["audit", str(tmp_path / name), "--jobs", "1", "--json"])
    return r, json.loads(r.stdout) if r.stdout else None


def test_a_bad_cell_is_reported_at_its_row_and_column(tmp_path):
    def bad_visits(columns, rows):
        rows[3]["request.visits"] = "6.5"            # row 4 (case c002's first and only row)
    r, doc = _one_bad(tmp_path, bad_visits)
    assert r.exit_code == 1 and doc["error_count"] == 1 and doc["cases"] == 6 and doc["cases_checked"] == 5
    col = 12                                          # request.visits is the 12th column
    assert f"bad.csv:4:{col} (case c002): C100" in r.stderr and "requests[0].visits" in r.stderr
    e = doc["errors"][0]
    assert (e["line"], e["column"], e["case"]) == (4, col, "c002")


def test_a_second_item_problem_names_the_items_row(tmp_path):
    def bad_region(columns, rows):
        rows[2]["request.body_regions"] = "cervical;neck"   # the second row of case c001
    r, doc = _one_bad(tmp_path, bad_region)
    assert doc["errors"][0]["line"] == 2                      # the case starts at row 2
    # the case is at row 2, its second item at row 3 (as a YAML case names the line of its problem)
    assert "bad.csv:2 (case c001): line 3, column 11: C100 unknown body region 'neck'" in r.stderr


@pytest.mark.parametrize("mutate, words", [
    (lambda cols, rows: rows[2].__setitem__("jurisdiction", "TX"),
     "bad.csv:2 (case c001): line 3, column 2: T004 the column jurisdiction differs from the first row of the case (row 2)"),
    (lambda cols, rows: rows[0].__setitem__("history", "{therapy: []}"),
     "bad.csv:1:7 (case c000): T003 the cell is not valid JSON"),
    (lambda cols, rows: rows.append(dict(rows[0])),
     "(case c000): T002 the rows of case id 'c000' are not together (its first rows end at row 1)"),
])
def test_case_level_cells_must_agree_and_parse(tmp_path, mutate, words):
    r, doc = _one_bad(tmp_path, mutate)
    assert r.exit_code == 1 and words in r.stderr, r.stderr


def test_an_unknown_column_is_one_error_for_the_file(tmp_path):
    def rename(columns, rows):
        columns[11] = "request.vists"
        for row in rows:
            row["request.vists"] = row.pop("request.visits")
    r, doc = _one_bad(tmp_path, rename)
    assert r.exit_code == 1 and doc["cases"] == 1 and doc["error_count"] == 1
    assert "bad.csv:0:12: T001 unknown column request.vists: columns are paths" in r.stderr
    assert "did you mean request.visits?" in r.stderr


def test_the_column_mapping_is_documented():
    from tests.conftest import ROOT
    doc = (ROOT / "docs" / "tabular.md").read_text()
    for c in CASE_COLUMNS + ITEM_COLUMNS:
        assert f"`{c}`" in doc, c


def test_a_tabular_audit_resumes_to_the_same_report(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 4)
    cases = _cases(30)
    columns, rows = _rows(cases)
    _write_csv(tmp_path / "c.csv", columns, rows)
    full = audit([tmp_path / "c.csv"], jobs=1).to_json_dict()
    ck = tmp_path / "ck"
    n = {"calls": 0}

    def stop():
        n["calls"] += 1
        return n["calls"] % 2 == 0
    r = audit([tmp_path / "c.csv"], jobs=1, checkpoint=ck, stop=stop)
    rounds = 1
    while r.partial and rounds < 40:
        r = audit([tmp_path / "c.csv"], jobs=1, checkpoint=ck, resume=True, stop=stop)
        rounds += 1
    assert rounds > 3 and r.to_json_dict() == full
