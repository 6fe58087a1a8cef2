"""Per machine, the ingest mapping's state, shared by the ingest workers under a row lock.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "machine_ingest_state",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_machine_ingest_state_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("machine_id", name=op.f("pk_machine_ingest_state")),
    )


def downgrade() -> None:
    op.drop_table("machine_ingest_state")
