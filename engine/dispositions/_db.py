"""The decision log's tables (SQLAlchemy Core) and how a database is opened: a URL, the default SQLite file
under the user's data folder, and the alembic migrations run on open (engine/dispositions/migrations).

Tables (docs/dispositions.md has what each column holds and why nothing of a case is in them):
  decisions         one row per decision served: assertion id, time, channel, engine version, rule sets with
                    their sha256, the case's sha256; the case id and the case itself only with store_cases
  decision_items    one row per requested item: its request id, outcome, certified visits, predicted review,
                    the findings that decided it (rule, rule set, version, effect), the CDS card uuid if any
  dispositions      a reviewer's accepted / overridden, coded reason, comment, reviewer id, time, source
  review_outcomes   an actual IMR/IRO result for an item, where one is known
"""
from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("assertion_id", sa.String(64), primary_key=True),
    sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),            # cli | api | cds
    sa.Column("engine_version", sa.String(40), nullable=False),
    sa.Column("rulesets", sa.JSON, nullable=False),                 # [{id, version, sha256}]
    sa.Column("case_sha256", sa.String(64), nullable=False),
    sa.Column("requested_by", sa.String(200)),                      # CDS Hooks context.userId (a practitioner)
    sa.Column("case_id", sa.String(200)),                           # only when the operator stores cases
    sa.Column("case_json", sa.Text),                                # only when the operator stores cases
)

decision_items = sa.Table(
    "decision_items", metadata,
    sa.Column("assertion_id", sa.String(64), sa.ForeignKey("decisions.assertion_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("request", sa.String(100), primary_key=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("certified_visits", sa.Integer),
    sa.Column("review_outcome", sa.String(32)),
    sa.Column("rules", sa.JSON, nullable=False),                    # [{rule, ruleset, version, effect}]
    sa.Column("card_uuid", sa.String(64), index=True, unique=True),
)

dispositions = sa.Table(
    "dispositions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("assertion_id", sa.String(64), nullable=False),
    sa.Column("request", sa.String(100), nullable=False),
    sa.Column("disposition", sa.String(16), nullable=False),        # accepted | overridden
    sa.Column("reason", sa.String(64)),                             # a code of rules/override-reasons.yaml
    sa.Column("comment", sa.Text),
    sa.Column("reviewer", sa.String(200), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),             # cds | page | import
    sa.ForeignKeyConstraint(["assertion_id", "request"],
                            ["decision_items.assertion_id", "decision_items.request"], ondelete="CASCADE"),
    sa.Index("ix_dispositions_item", "assertion_id", "request"),
)

review_outcomes = sa.Table(
    "review_outcomes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("assertion_id", sa.String(64), nullable=False),
    sa.Column("request", sa.String(100), nullable=False),
    sa.Column("actual", sa.String(32), nullable=False),             # upheld | overturned | partially_overturned
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.ForeignKeyConstraint(["assertion_id", "request"],
                            ["decision_items.assertion_id", "decision_items.request"], ondelete="CASCADE"),
    sa.Index("ix_review_outcomes_item", "assertion_id", "request"),
)


def default_url() -> str:
    """$PTCHECK_DB, else a SQLite file in the user's data folder ($XDG_DATA_HOME/ptcheck on Linux)."""
    env = os.environ.get("PTCHECK_DB")
    if env:
        return env
    import platformdirs
    return f"sqlite:///{platformdirs.user_data_path('ptcheck') / 'decisions.sqlite3'}"


def normalize_url(url: str) -> sa.URL:
    """A database URL as SQLAlchemy takes it: `postgresql://` and `postgres://` use psycopg 3, a bare path is
    a SQLite file."""
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser()}"
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: sa.URL) -> str:
    """The URL for messages: never its password."""
    return url.render_as_string(hide_password=True)


def prepare_sqlite_file(url: sa.URL) -> None:
    """Create the SQLite file's folder (0700) and the file itself (0600) on first use."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def create_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        memory = url.database in (None, "", ":memory:")         # one shared connection, or each sees its own
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  **({"poolclass": sa.pool.StaticPool} if memory else {}))

        @sa.event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def migrate(engine: sa.Engine) -> None:
    """Bring the database to the newest schema (alembic upgrade head, the migrations shipped with ptcheck)."""
    from alembic import command
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
