"""meter keys registered at onboarding; each session's energy verification

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meter_keys",
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("meter_serial", sa.String(length=64), nullable=False),
        sa.Column("public_key_der", sa.LargeBinary(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charger_id", "evse_id"),
    )
    with op.batch_alter_table("charging_sessions") as table:
        table.add_column(sa.Column("verification", sa.String(length=16), nullable=True))
        table.add_column(sa.Column("verification_reason", sa.Text(), nullable=True))
        table.add_column(sa.Column("verified_energy_wh", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("charging_sessions") as table:
        table.drop_column("verified_energy_wh")
        table.drop_column("verification_reason")
        table.drop_column("verification")
    op.drop_table("meter_keys")
