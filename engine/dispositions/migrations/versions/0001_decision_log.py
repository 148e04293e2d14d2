"""The decision log and reviewer dispositions (issue 22).

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("assertion_id", sa.String(64), primary_key=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("engine_version", sa.String(40), nullable=False),
        sa.Column("rulesets", sa.JSON, nullable=False),
        sa.Column("case_sha256", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(200)),
        sa.Column("case_id", sa.String(200)),
        sa.Column("case_json", sa.Text),
    )
    op.create_table(
        "decision_items",
        sa.Column("assertion_id", sa.String(64), sa.ForeignKey("decisions.assertion_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("request", sa.String(100), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("certified_visits", sa.Integer),
        sa.Column("review_outcome", sa.String(32)),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("card_uuid", sa.String(64)),
    )
    op.create_index("ix_decision_items_card_uuid", "decision_items", ["card_uuid"], unique=True)
    for name, columns in (
        ("dispositions", [sa.Column("disposition", sa.String(16), nullable=False),
                          sa.Column("reason", sa.String(64)),
                          sa.Column("comment", sa.Text),
                          sa.Column("reviewer", sa.String(200), nullable=False)]),
        ("review_outcomes", [sa.Column("actual", sa.String(32), nullable=False)]),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("assertion_id", sa.String(64), nullable=False),
            sa.Column("request", sa.String(100), nullable=False),
            *columns,
            sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("source", sa.String(16), nullable=False),
            sa.ForeignKeyConstraint(["assertion_id", "request"],
                                    ["decision_items.assertion_id", "decision_items.request"], ondelete="CASCADE"),
        )
        op.create_index(f"ix_{name}_item", name, ["assertion_id", "request"])


def downgrade() -> None:
    op.drop_table("review_outcomes")
    op.drop_table("dispositions")
    op.drop_index("ix_decision_items_card_uuid", "decision_items")
    op.drop_table("decision_items")
    op.drop_table("decisions")
