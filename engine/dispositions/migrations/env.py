"""Alembic environment: ptcheck runs the migrations on the connection it opened (engine/dispositions/_db.py,
migrate); `alembic -x url=...` from this folder works too, for an operator who prefers the alembic command."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ptcheck.dispositions._db import metadata, normalize_url

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///path/decisions.sqlite3 upgrade head")
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
