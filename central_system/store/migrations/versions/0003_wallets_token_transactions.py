"""wallets and token transactions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("owner_ref", sa.String(length=64), nullable=False),
        sa.Column("pubkey", sa.String(length=44), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("token_account", sa.String(length=44), nullable=False),
        sa.Column("kyc_status", sa.String(length=16), nullable=False),
        sa.Column("kyc_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_ref"),
        sa.UniqueConstraint("pubkey"),
    )
    op.create_table(
        "token_transactions",
        sa.Column("tx_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("owner_ref", sa.String(length=64), nullable=True),
        sa.Column("amount_raw", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=96), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("compute_units", sa.Integer(), nullable=True),
        sa.Column("slot", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["charging_sessions.session_id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("tx_id"),
        sa.UniqueConstraint("kind", "session_id", name="uq_token_transaction_session"),
    )
    op.create_index("ix_token_transaction_status", "token_transactions", ["status"])


def downgrade() -> None:
    op.drop_index("ix_token_transaction_status", table_name="token_transactions")
    op.drop_table("token_transactions")
    op.drop_table("wallets")
