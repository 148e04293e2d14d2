"""The decision log and reviewer dispositions, the same tests on SQLite and on a real PostgreSQL server.

PostgreSQL: $PTCHECK_TEST_POSTGRES names a database these tests may empty (.ci/run starts a throwaway server
with .ci/postgres.sh and exports it). Without it the PostgreSQL half is skipped, saying so; under CI=true it
fails instead, so that CI never passes with the PostgreSQL tests silently left out."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

sa = pytest.importorskip("sqlalchemy", reason="the db extra is not installed (pip install -e '.[test]')")

from ptcheck import load_cases  # noqa: E402
from ptcheck.dispositions import (  # noqa: E402
    Disposition,
    OverrideReasons,
    ReviewOutcome,
    Store,
    StoreError,
    audit_dispositions,
    import_file,
    render_html,
)

PG = os.environ.get("PTCHECK_TEST_POSTGRES")


def _empty_postgres(url: str) -> None:
    from ptcheck.dispositions._db import normalize_url
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.sqlite3'}"
    if not PG:
        if os.environ.get("CI"):
            pytest.fail("CI: PTCHECK_TEST_POSTGRES is not set although .ci/run starts PostgreSQL", pytrace=False)
        pytest.skip("no PostgreSQL server: set PTCHECK_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB "
                    "(.ci/postgres.sh starts one)")
    _empty_postgres(PG)
    return PG


@pytest.fixture
def store(db_url):
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def seeds(checker):
    return [(l.case, checker.check(l.case)) for l in load_cases([ROOT / "cases/seeds"]) if l.ok]


@pytest.fixture(scope="module")
def reasons():
    return OverrideReasons.load()


def _log(store, seeds):
    return [store.log_decision(d, case, channel="api") for case, d in seeds]


def test_a_decision_is_logged_with_versions_and_hashes_and_nothing_of_the_case(store, seeds):
    aids = _log(store, seeds)
    rows = {r["assertion_id"]: r for r in store.table("decisions")}
    assert set(rows) == set(aids) and len(set(aids)) == len(aids)
    case, d = seeds[0]
    row = rows[aids[0]]
    assert row["engine_version"] == d.engine_version and row["channel"] == "api"
    assert row["rulesets"] == [r.model_dump(mode="json") for r in d.rulesets]
    assert len(row["case_sha256"]) == 64
    assert row["case_id"] is None and row["case_json"] is None
    dumped = json.dumps([*store.table("decisions"), *store.table("decision_items")], default=str)
    for text in (case.id, case.requests[0].text, *(dx.text for dx in case.diagnoses if dx.text)):
        assert text and text not in dumped                   # no case id, request text or diagnosis stored
    items = store.table("decision_items")
    assert len(items) == sum(len(d.items) for _, d in seeds)
    first = next(i for i in items if i["assertion_id"] == aids[0])
    assert first["outcome"] == d.items[0].outcome and first["rules"]


def test_the_operator_may_store_the_cases(db_url, seeds):
    store = Store.open(db_url, store_cases=True)
    case, d = seeds[0]
    aid = store.log_decision(d, case, channel="cli")
    row = store.decision(aid)
    assert row["case_id"] == case.id and json.loads(row["case_json"])["id"] == case.id
    store.close()


def test_dispositions_and_outcomes_are_recorded_and_audited(store, seeds, reasons):
    aids = _log(store, seeds)
    t0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc)
    store.record(Disposition(aids[0], "1", "accepted", reviewer="rev-a", decided_at=t0))
    store.record(Disposition(aids[1], "1", "accepted", reviewer="rev-b", decided_at=t0))
    # a later disposition of the same item wins: rev-b changed their mind
    store.record(Disposition(aids[1], "1", "overridden", reason="exceptional-factors", comment="see the PR-2",
                             reviewer="rev-b", decided_at=t0 + dt.timedelta(hours=1)))
    store.record(Disposition(aids[2], "1", "overridden", reason="documentation-not-in-case", reviewer="rev-a",
                             decided_at=t0))
    store.record(Disposition(aids[3], "1", "overridden", reviewer="rev-a", decided_at=t0))   # no reason given
    store.record_outcome(ReviewOutcome(aids[0], "1", "upheld"))
    store.record_outcome(ReviewOutcome(aids[1], "1", "overturned"))
    store.record_outcome(ReviewOutcome(aids[2], "1", "upheld"))
    store.record_outcome(ReviewOutcome(aids[4], "1", "upheld"))
    r = audit_dispositions(store, reasons).as_dict()
    assert r["decisions"] == 5
    assert (r["overall"]["accepted"], r["overall"]["overridden"], r["overall"]["override_rate"]) == (1, 3, 0.75)
    assert {x["reviewer"]: (x["accepted"], x["overridden"]) for x in r["by_reviewer"]} == {"rev-a": (1, 2), "rev-b": (0, 1)}
    assert [(x["reason"], x["count"]) for x in r["override_reasons"]] == [
        ("(none)", 1), ("documentation-not-in-case", 1), ("exceptional-factors", 1)]
    assert r["override_reasons"][1]["display"] == reasons.reasons["documentation-not-in-case"]
    held = r["review_outcomes"]
    assert (held["accepted"]["with_outcome"], held["accepted"]["held_rate"]) == (1, 1.0)
    assert (held["overridden"]["with_outcome"], held["overridden"]["upheld"], held["overridden"]["held_rate"]) == (2, 1, 0.5)
    assert held["no_disposition"]["with_outcome"] == 1
    # by rule and by rule set: seed 1's deciding rule carries its one acceptance
    item = seeds[0][1].items[0]
    deciding = [f for f in item.findings if f.effect == item.outcome]       # seed 1: a non-certification
    assert item.outcome == "non_certify" and deciding
    for f in deciding:
        row = next(x for x in r["by_rule"] if x["rule"] == f.rule)
        assert (row["ruleset"], row["version"], row["accepted"], row["override_rate"]) == (f.ruleset, f.version, 1, 0.0)
        assert any(x["ruleset"] == f.ruleset and x["version"] == f.version for x in r["by_ruleset"])
    html = render_html(audit_dispositions(store, reasons))
    assert "exceptional-factors" in html and "<script" not in html and "see the PR-2" not in html


def test_a_record_must_name_a_logged_item(store, seeds):
    aids = _log(store, seeds[:1])
    with pytest.raises(StoreError, match="no decision 'nope'"):
        store.record(Disposition("nope", "1", "accepted", reviewer="r"))
    with pytest.raises(StoreError, match="has no item '7' \\(its items: 1\\)"):
        store.record(Disposition(aids[0], "7", "accepted", reviewer="r"))
    with pytest.raises(ValueError):
        store.record(Disposition(aids[0], "1", "maybe", reviewer="r"))


def test_import_records_good_lines_and_names_each_bad_one(store, seeds, reasons, tmp_path):
    aids = _log(store, seeds)
    lines = [
        {"assertion_id": aids[0], "request": "1", "disposition": "accepted", "reviewer": "rev-1"},
        {"kind": "disposition", "assertion_id": aids[1], "request": "1", "disposition": "overridden",
         "reason": "exceptional-factors", "reviewer": "rev-1", "decided_at": "2026-12-02T10:00:00Z"},
        {"kind": "outcome", "assertion_id": aids[1], "request": "1", "actual": "upheld"},
        {"assertion_id": aids[2], "request": "1", "disposition": "overridden", "reason": "exceptional-factor",
         "reviewer": "rev-1"},
        {"assertion_id": aids[2], "request": "1", "disposition": "acepted", "reviewer": "rev-1"},
        {"assertion_id": "missing", "request": "1", "disposition": "accepted", "reviewer": "rev-1"},
        {"assertion_id": aids[3], "request": "1", "disposition": "accepted", "reviewer": "rev-1", "reson": "x"},
        {"assertion_id": aids[3], "request": "1", "disposition": "accepted", "reason": "other", "reviewer": "r"},
    ]
    path = tmp_path / "dispositions.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n\n[1]\n")
    result = import_file(store, path, reasons)
    assert (result.dispositions, result.outcomes) == (2, 1)
    shown = [str(p) for p in result.problems]
    assert shown[0] == (f"{path}:4:1: reason: unknown override reason 'exceptional-factor'; did you mean "
                        f"'exceptional-factors'? (the codes: {', '.join(reasons.reasons)})")
    assert shown[1].startswith(f"{path}:5:1: disposition: must be 'accepted' or 'overridden'")
    assert shown[2] == f"{path}:6:1: the decision log has no decision 'missing'"
    assert shown[3] == f"{path}:7:1: reson: unknown field"
    assert shown[4] == f"{path}:8:1: reason: only an override has a reason (leave it out for accepted)"
    assert shown[5].startswith(f"{path}:9:2: not JSON: Expecting property name")
    assert shown[6] == f"{path}:11:1: each line is one JSON object ({{...}})"
    assert len(shown) == 7
    assert len(store.table("dispositions")) == 2 and len(store.table("review_outcomes")) == 1


def test_export_then_audit_of_the_file_equals_the_audit_of_the_database(store, db_url, seeds, reasons, tmp_path):
    aids = _log(store, seeds)
    store.record(Disposition(aids[0], "1", "overridden", reason="clinical-judgement", reviewer="rev-x"))
    store.record_outcome(ReviewOutcome(aids[0], "1", "overturned"))
    export = tmp_path / "export.jsonl"
    run = subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "export", "--db", db_url],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    export.write_text(run.stdout)
    from_db = subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "audit", "--db", db_url, "--json"],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout
    html = tmp_path / "audit.html"
    from_file = subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "audit", str(export), "--json",
                                "--html", str(html)], capture_output=True, text=True, cwd=ROOT)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout) == json.loads(from_db) == audit_dispositions(store, reasons).as_dict()
    assert json.loads(from_db)["overall"]["overridden"] == 1 and "clinical-judgement" in html.read_text()


def test_cli_import_exit_codes(store, db_url, seeds, tmp_path):
    aids = _log(store, seeds[:1])
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"assertion_id": aids[0], "request": "1", "disposition": "accepted", "reviewer": "r"}))
    run = subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "import", str(good), "--db", db_url],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "imported 1 disposition(s)" in run.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"assertion_id": "x", "request": "1", "disposition": "accepted", "reviewer": "r"}\n')
    run = subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "import", str(bad), "--db", db_url],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and f"{bad}:1:1: the decision log has no decision 'x'" in run.stderr
    run = subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "import", str(tmp_path / "none.jsonl"),
                          "--db", db_url], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "no such file" in run.stderr


def test_the_migrations_build_exactly_the_tables_the_code_uses(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ptcheck.dispositions._db import metadata
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    Store.open(str(store.url.render_as_string(hide_password=False))).close()      # opening again is a no-op


def test_default_database_is_a_file_in_the_users_data_folder(tmp_path, monkeypatch):
    from ptcheck.dispositions._db import default_url
    monkeypatch.delenv("PTCHECK_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_url() == f"sqlite:///{tmp_path / 'data' / 'ptcheck' / 'decisions.sqlite3'}"
    store = Store.open()
    store.close()
    made = tmp_path / "data" / "ptcheck" / "decisions.sqlite3"
    assert made.is_file() and made.stat().st_mode & 0o077 == 0            # created on first use, private
    monkeypatch.setenv("PTCHECK_DB", "sqlite:///elsewhere.sqlite3")
    assert default_url() == "sqlite:///elsewhere.sqlite3"
