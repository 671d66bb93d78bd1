"""operator settlements of sessions paid in EVCH

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_settlements",
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tx_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("operator_ref", sa.String(length=64), nullable=False),
        sa.Column("bill_minor", sa.BigInteger(), nullable=False),
        sa.Column("bill_currency", sa.String(length=3), nullable=False),
        sa.Column("peg_basis", sa.String(length=8), nullable=False),
        sa.Column("evch_value_minor", sa.String(length=64), nullable=False),
        sa.Column("gross_raw", sa.BigInteger(), nullable=False),
        sa.Column("fee_raw", sa.BigInteger(), nullable=False),
        sa.Column("net_raw", sa.BigInteger(), nullable=False),
        sa.Column("settled_in", sa.String(length=8), nullable=False),
        sa.Column("settled_minor", sa.BigInteger(), nullable=False),
        sa.Column("settled_currency", sa.String(length=3), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["charging_sessions.session_id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tx_id"], ["token_transactions.tx_id"]),
        sa.PrimaryKeyConstraint("session_id"),
        sa.UniqueConstraint("tx_id"),
    )


def downgrade() -> None:
    op.drop_table("operator_settlements")
