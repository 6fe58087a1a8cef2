"""KPI rollups per machine for the plant's local days and months, and each machine's first event time.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The elements as they are at this revision (the same columns as hourly_rollups).
_ELEMENTS = ("pbt_s", "apt_s", "asut_s", "adet_s", "pdot_s", "unknown_s", "overtime_s", "down_s", "failures", "pq",
             "gq", "sq", "rq", "ideal_s", "pq_without_pru")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "local_rollups",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(5), nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("period_end", UTCDateTime, nullable=False),
        *[sa.Column(name, sa.Float if name.endswith("_s") else sa.BigInteger, nullable=False) for name in _ELEMENTS],
        sa.ForeignKeyConstraint(["machine_id"], ["machines.id"], name=op.f("fk_local_rollups_machine_id_machines")),
        sa.PrimaryKeyConstraint("machine_id", "unit", "period_start", name=op.f("pk_local_rollups")),
    )
    with op.batch_alter_table("rollup_state") as batch:
        batch.add_column(sa.Column("first_event", UTCDateTime, nullable=True))
    # Rollups are derived data: start them again, so that every machine gets its days, months and first event
    # from the events at its next refresh (until then its KPIs are computed from the raw events).
    op.execute("DELETE FROM hourly_rollups")
    op.execute("DELETE FROM rollup_state")


def downgrade() -> None:
    with op.batch_alter_table("rollup_state") as batch:
        batch.drop_column("first_event")
    op.drop_table("local_rollups")
