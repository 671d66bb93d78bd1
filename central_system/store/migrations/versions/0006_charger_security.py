"""charger credentials for OCPP security profiles 1 and 2 (password hashes only)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charger_credentials",
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("password_set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.charger_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("charger_id"),
    )


def downgrade() -> None:
    op.drop_table("charger_credentials")
