"""Scheduled reports: what to send after each shift or day, where, and how the last attempts went.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import shopfloor.store.schema

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("formats", sa.String(length=16), nullable=False),
        sa.Column("delivery", sa.String(length=8), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_period", sa.String(length=64), nullable=True),
        sa.Column("last_success_at", shopfloor.store.schema.UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", shopfloor.store.schema.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_report_schedules_name")),
    )


def downgrade() -> None:
    op.drop_table("report_schedules")
