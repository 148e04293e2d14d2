"""The decision log and reviewer dispositions in a database: log each decision served, record dispositions
and actual IMR/IRO results, read them back for audits and exports.

    store = Store.open()                               # $PTCHECK_DB, else ~/.local/share/ptcheck/decisions.sqlite3
    store = Store.open("postgresql://user@host/db")    # psycopg 3
    aid = store.log_decision(decision, case, channel="api")
    store.record(Disposition(aid, "1", "overridden", reason="exceptional-factors", reviewer="rev-7"))

Nothing of a case is stored unless the store was opened with store_cases=True: a decision row holds the
case's sha256, not its id or content.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import sqlalchemy as sa

from .. import CaseDecision
from . import _db

DISPOSITIONS = ("accepted", "overridden")
ACTUALS = ("upheld", "overturned", "partially_overturned")
DECIDING = {"certify": ("certify", "limit"), "modify": ("limit",), "non_certify": ("non_certify", "limit"),
            "pend": ("pend",)}


class StoreError(Exception):
    """The database cannot be opened or written (message names the URL without its password), or a record
    refers to a decision the log does not hold."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_assertion_id() -> str:
    """A coverage-assertion-id: random, so it says nothing about the case."""
    return uuid.uuid4().hex


def case_sha256(case: Any) -> str:
    """sha256 of the case as canonical JSON (a pydantic Case, or its dict)."""
    data = case.model_dump(mode="json") if hasattr(case, "model_dump") else case
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def deciding_rules(item) -> list[dict]:
    """The findings that made an item's outcome, as {rule, ruleset, version, effect}."""
    effects = DECIDING[item.outcome]
    picked = [f for f in item.findings if f.effect == effects[0]]
    if not picked and len(effects) > 1:
        picked = [f for f in item.findings if f.effect in effects[1:]]
    return [{"rule": f.rule, "ruleset": f.ruleset, "version": f.version, "effect": f.effect} for f in picked]


@dataclass
class Disposition:
    """A reviewer's answer to one item's suggestion: accepted, or overridden with a coded reason."""
    assertion_id: str
    request: str
    disposition: str                      # accepted | overridden
    reason: str | None = None             # a code of rules/override-reasons.yaml (overrides)
    comment: str | None = None
    reviewer: str = "unknown"
    decided_at: dt.datetime = field(default_factory=now)
    source: str = "import"                # cds | page | import


@dataclass
class ReviewOutcome:
    """The actual IMR/IRO result for an item whose decision was logged."""
    assertion_id: str
    request: str
    actual: str                           # upheld | overturned | partially_overturned
    decided_at: dt.datetime = field(default_factory=now)
    source: str = "import"


class Store:
    """A decision log in one database (SQLite or PostgreSQL), migrated to the newest schema when opened."""

    def __init__(self, engine: sa.Engine, url: sa.URL, store_cases: bool = False):
        self.engine, self.url, self.store_cases = engine, url, store_cases

    @classmethod
    def open(cls, url: str | None = None, *, store_cases: bool = False) -> "Store":
        parsed = _db.normalize_url(url or _db.default_url())
        try:
            _db.prepare_sqlite_file(parsed)
            engine = _db.create_engine(parsed)
            _db.migrate(engine)
        except (sa.exc.SQLAlchemyError, OSError) as e:
            raise StoreError(f"cannot open the decision log at {_db.shown(parsed)}: {_why(e)}") from None
        except ModuleNotFoundError as e:
            raise StoreError(f"cannot open the decision log at {_db.shown(parsed)}: the driver is not installed "
                             f"({e.name}; for PostgreSQL: pip install 'ptcheck[postgres]')") from None
        return cls(engine, parsed, store_cases)

    @property
    def where(self) -> str:
        return _db.shown(self.url)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ writing

    def log_decision(self, decision: CaseDecision, case: Any = None, *, channel: str,
                     assertion_id: str | None = None, requested_by: str | None = None,
                     card_uuids: dict[str, str] | None = None, served_at: dt.datetime | None = None) -> str:
        """Log a decision served; returns its assertion id (the CRD coverage-assertion-id)."""
        aid = assertion_id or new_assertion_id()
        row = {"assertion_id": aid, "served_at": served_at or now(), "channel": channel,
               "engine_version": decision.engine_version,
               "rulesets": [r.model_dump(mode="json") for r in decision.rulesets],
               "case_sha256": case_sha256(case) if case is not None else "",
               "requested_by": requested_by, "case_id": None, "case_json": None}
        if self.store_cases:
            row["case_id"] = decision.case
            row["case_json"] = json.dumps(case.model_dump(mode="json") if hasattr(case, "model_dump") else case,
                                          ensure_ascii=False) if case is not None else None
        items = [{"assertion_id": aid, "request": it.request, "outcome": it.outcome,
                  "certified_visits": it.certified_visits, "review_outcome": it.review_outcome,
                  "rules": deciding_rules(it), "card_uuid": (card_uuids or {}).get(it.request)}
                 for it in decision.items]
        self._write(lambda conn: (conn.execute(_db.decisions.insert(), [row]),
                                  conn.execute(_db.decision_items.insert(), items)))
        return aid

    def import_decision(self, row: dict, items: list[dict]) -> None:
        """Insert a logged decision exported from another log (`dispositions export`), as it was."""
        self._write(lambda conn: (conn.execute(_db.decisions.insert(), [row]),
                                  conn.execute(_db.decision_items.insert(), items) if items else None))

    def record(self, d: Disposition) -> int:
        """Record a disposition of a logged item; StoreError when the log has no such item."""
        if d.disposition not in DISPOSITIONS:
            raise ValueError(f"disposition is accepted or overridden, not {d.disposition!r}")
        self._require_item(d.assertion_id, d.request)
        values = {k: getattr(d, k) for k in ("assertion_id", "request", "disposition", "reason", "comment",
                                             "reviewer", "decided_at", "source")}
        return self._write(lambda conn: conn.execute(_db.dispositions.insert().values(**values))
                           .inserted_primary_key[0])

    def record_outcome(self, o: ReviewOutcome) -> int:
        if o.actual not in ACTUALS:
            raise ValueError(f"actual is one of {', '.join(ACTUALS)}, not {o.actual!r}")
        self._require_item(o.assertion_id, o.request)
        values = {k: getattr(o, k) for k in ("assertion_id", "request", "actual", "decided_at", "source")}
        return self._write(lambda conn: conn.execute(_db.review_outcomes.insert().values(**values))
                           .inserted_primary_key[0])

    def _write(self, fn):
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except sa.exc.IntegrityError as e:
            raise StoreError(f"the decision log at {self.where} refused the record: {_why(e)}") from None
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"cannot write to the decision log at {self.where}: {_why(e)}") from None

    def _require_item(self, assertion_id: str, request: str) -> None:
        if self.item(assertion_id, request) is None:
            known = self.requests_of(assertion_id)
            raise StoreError(f"the decision log has no decision {assertion_id!r}" if not known else
                             f"decision {assertion_id!r} has no item {request!r} (its items: {', '.join(known)})")

    # ------------------------------------------------------------------ reading

    def _read(self, stmt) -> list[dict]:
        try:
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(stmt)]
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"cannot read the decision log at {self.where}: {_why(e)}") from None

    def item(self, assertion_id: str, request: str) -> dict | None:
        t = _db.decision_items
        rows = self._read(sa.select(t).where(t.c.assertion_id == assertion_id, t.c.request == request))
        return rows[0] if rows else None

    def requests_of(self, assertion_id: str) -> list[str]:
        t = _db.decision_items
        return [r["request"] for r in self._read(sa.select(t.c.request).where(t.c.assertion_id == assertion_id)
                                                 .order_by(t.c.request))]

    def decision(self, assertion_id: str) -> dict | None:
        rows = self._read(sa.select(_db.decisions).where(_db.decisions.c.assertion_id == assertion_id))
        return rows[0] if rows else None

    def by_card(self, card_uuid: str) -> dict | None:
        """The logged item a CDS Hooks card was issued for."""
        t = _db.decision_items
        rows = self._read(sa.select(t).where(t.c.card_uuid == card_uuid))
        return rows[0] if rows else None

    def table(self, name: str) -> list[dict]:
        """Every row of one table (decisions, decision_items, dispositions, review_outcomes), in a stable order."""
        t = _db.metadata.tables[name]
        order = {"decisions": ("served_at", "assertion_id"), "decision_items": ("assertion_id", "request")}.get(
            name, ("decided_at", "id"))                          # dispositions, outcomes: in time order
        return self._read(sa.select(t).order_by(*(t.c[c] for c in order)))

    def export(self) -> Iterator[dict]:
        """Every record as JSON-ready dicts with a `kind` (decision, disposition, outcome): the format that
        `dispositions import` and `dispositions audit FILE` read."""
        items: dict[str, list[dict]] = {}
        for it in self.table("decision_items"):
            items.setdefault(it["assertion_id"], []).append(it)
        for d in self.table("decisions"):
            yield {"kind": "decision", **_jsonable(d), "items": [
                {k: v for k, v in _jsonable(it).items() if k != "assertion_id"} for it in items.get(d["assertion_id"], [])]}
        for d in self.table("dispositions"):
            yield {"kind": "disposition", **{k: v for k, v in _jsonable(d).items() if k != "id"}}
        for o in self.table("review_outcomes"):
            yield {"kind": "outcome", **{k: v for k, v in _jsonable(o).items() if k != "id"}}


def _jsonable(row: dict) -> dict:
    return {k: (v.astimezone(dt.timezone.utc).isoformat() if isinstance(v, dt.datetime) and v.tzinfo
                else v.replace(tzinfo=dt.timezone.utc).isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in row.items()}


def _why(e: BaseException) -> str:
    """The first line of a database error, without SQL parameters (they may hold ids and comments)."""
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return text[:200]
