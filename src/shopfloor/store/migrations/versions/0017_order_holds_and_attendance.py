"""Order holds of a recall (output of an order that consumed a suspect lot is made on hold) and the sign-in and
sign-out of operators at machines (worker-hours).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order", sa.String(64), nullable=False),
        sa.Column("lot", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("ts", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_holds")),
        sa.UniqueConstraint("work_order", "lot", name="uq_order_holds_work_order_lot"),
    )
    op.create_table(
        "attendance",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("signed_in", UTCDateTime, nullable=False),
        sa.Column("signed_out", UTCDateTime, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
    )
    op.create_index("ix_attendance_machine_in", "attendance", ["machine", "signed_in"])
    op.create_index(
        "uq_attendance_open",
        "attendance",
        ["username"],
        unique=True,
        sqlite_where=sa.text("signed_out IS NULL"),
        postgresql_where=sa.text("signed_out IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_attendance_open", table_name="attendance")
    op.drop_index("ix_attendance_machine_in", table_name="attendance")
    op.drop_table("attendance")
    op.drop_table("order_holds")
