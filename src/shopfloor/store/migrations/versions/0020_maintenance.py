"""Maintenance: moulds and where they are mounted, preventive maintenance plans (calendar, run hours, cycles,
shots), maintenance orders (preventive and breakdowns).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

OPEN_MOUNT = sa.text("unmounted_at IS NULL")
OPEN_BREAKDOWN = sa.text("kind = 'breakdown' AND status != 'closed'")
OPEN_ORDER = sa.text("status != 'closed'")


def upgrade() -> None:
    op.create_table(
        "moulds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("cavities", sa.Integer(), nullable=False),
        sa.Column("life_shots", sa.BigInteger(), nullable=True),
        sa.Column("initial_shots", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moulds")),
        sa.UniqueConstraint("code", name=op.f("uq_moulds_code")),
    )
    op.create_table(
        "mould_mounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mould_id", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("mounted_at", UTCDateTime(), nullable=False),
        sa.Column("mounted_by", sa.String(200), nullable=False),
        sa.Column("unmounted_at", UTCDateTime(), nullable=True),
        sa.Column("unmounted_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["mould_id"], ["moulds.id"], name=op.f("fk_mould_mounts_mould_id_moulds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mould_mounts")),
    )
    op.create_index(
        "uq_mould_mounts_open_mould",
        "mould_mounts",
        ["mould_id"],
        unique=True,
        sqlite_where=OPEN_MOUNT,
        postgresql_where=OPEN_MOUNT,
    )
    op.create_index(
        "uq_mould_mounts_open_machine",
        "mould_mounts",
        ["machine"],
        unique=True,
        sqlite_where=OPEN_MOUNT,
        postgresql_where=OPEN_MOUNT,
    )
    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("machine", sa.String(64), nullable=True),
        sa.Column("mould", sa.String(64), nullable=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("interval", sa.Float(), nullable=False),
        sa.Column("warn_before", sa.Float(), nullable=False),
        sa.Column("planned_minutes", sa.Float(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("last_done_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_maintenance_plans_code")),
    )
    op.create_table(
        "maintenance_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("machine", sa.String(64), nullable=True),
        sa.Column("mould", sa.String(64), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("raised_by", sa.String(200), nullable=False),
        sa.Column("down_since", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("started_by", sa.String(200), nullable=True),
        sa.Column("planned_minutes", sa.Float(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("labour_minutes", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["maintenance_plans.id"], name=op.f("fk_maintenance_orders_plan_id_maintenance_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_orders")),
        sa.UniqueConstraint("code", name=op.f("uq_maintenance_orders_code")),
    )
    op.create_index("ix_maintenance_orders_machine", "maintenance_orders", ["machine", "raised_at"])
    op.create_index(
        "uq_maintenance_orders_open_breakdown",
        "maintenance_orders",
        ["machine"],
        unique=True,
        sqlite_where=OPEN_BREAKDOWN,
        postgresql_where=OPEN_BREAKDOWN,
    )
    op.create_index(
        "uq_maintenance_orders_open_plan",
        "maintenance_orders",
        ["plan_id"],
        unique=True,
        sqlite_where=OPEN_ORDER,
        postgresql_where=OPEN_ORDER,
    )


def downgrade() -> None:
    op.drop_table("maintenance_orders")
    op.drop_table("maintenance_plans")
    op.drop_table("mould_mounts")
    op.drop_table("moulds")
