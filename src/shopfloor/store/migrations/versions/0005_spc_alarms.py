"""Live SPC: frozen phase I limits per watched process value, and rule-violation alarms.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spc_limits",
        sa.Column(
            "machine_id",
            sa.Integer,
            sa.ForeignKey("machines.id", name="fk_spc_limits_machine_id_machines"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("centre", sa.Float, nullable=False),
        sa.Column("sigma", sa.Float, nullable=False),
        sa.Column("baseline_points", sa.Integer, nullable=False),
        sa.Column("estimated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("machine_id", "name", name="pk_spc_limits"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column(
            "machine_id", sa.Integer, sa.ForeignKey("machines.id", name="fk_alarms_machine_id_machines"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("ts", UTCDateTime, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("points", sa.JSON, nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
        sa.Column("ack_at", UTCDateTime, nullable=True),
        sa.Column("ack_by", sa.String(200), nullable=True),
        sa.Column("ack_comment", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alarms"),
        sa.UniqueConstraint("machine_id", "name", "rule", "ts", name="uq_alarms_machine_id"),
    )


def downgrade() -> None:
    op.drop_table("alarms")
    op.drop_table("spc_limits")
