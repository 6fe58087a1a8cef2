"""One order in progress per machine as a constraint; a lease on each report schedule, so that one worker of
many sends a period's report; background jobs (long reports) and their progress in the store, so that any web
worker can answer for them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import shopfloor.store.schema

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'in_progress'")


def upgrade() -> None:
    op.create_index(
        "uq_work_orders_running_machine",
        "work_orders",
        ["machine"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    with op.batch_alter_table("report_schedules") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_until", shopfloor.store.schema.UTCDateTime(), nullable=True))
    op.create_table(
        "background_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("created_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("ended_at", shopfloor.store.schema.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_background_jobs_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_jobs")),
    )
    op.create_index("ix_background_jobs_ended_at", "background_jobs", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_background_jobs_ended_at", table_name="background_jobs")
    op.drop_table("background_jobs")
    with op.batch_alter_table("report_schedules") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
    op.drop_index("uq_work_orders_running_machine", table_name="work_orders")
