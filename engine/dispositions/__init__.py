"""The decision log and reviewer dispositions: every decision served is logged (assertion id, time, engine and
rule-set versions with their hashes, the case's hash), reviewers' accepted / overridden answers with a coded
reason are recorded against it, and audits report override rates and whether the decisions held.

    from ptcheck.dispositions import Store, Disposition, audit_dispositions

    store = Store.open()                         # SQLite under the user's data folder, or a URL
    aid = store.log_decision(decision, case, channel="api")
    store.record(Disposition(aid, "1", "accepted", reviewer="rev-7"))
    print(audit_dispositions(store).to_json())

Needs the `db` extra (SQLAlchemy 2, alembic, platformdirs; `postgres` for PostgreSQL through psycopg 3).
"""
from __future__ import annotations

from ._audit import DispositionAudit, audit_dispositions, render_html
from ._reasons import OverrideReasons, ReasonsError
from ._records import ImportResult, RecordProblem, import_file
from ._store import Disposition, ReviewOutcome, Store, StoreError, case_sha256, new_assertion_id

__all__ = ["Disposition", "DispositionAudit", "ImportResult", "OverrideReasons", "ReasonsError", "RecordProblem",
           "ReviewOutcome", "Store", "StoreError", "audit_dispositions", "case_sha256", "import_file",
           "new_assertion_id", "render_html"]
