"""The floor: a handover note per machine and shift occurrence, and photos of defects attached to scrap entries.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handover_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("shift_key", sa.String(80), nullable=False),
        sa.Column("shift", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
        sa.Column("written_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["machine_id"], ["machines.id"], name=op.f("fk_handover_notes_machine_id_machines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_notes")),
        sa.UniqueConstraint("machine_id", "shift_key", name="uq_handover_notes_machine_shift"),
    )
    op.create_table(
        "defect_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(64), nullable=False),
        sa.Column("defect", sa.String(64), nullable=True),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("taken_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["machine_id"], ["machines.id"], name=op.f("fk_defect_photos_machine_id_machines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_defect_photos")),
    )
    op.create_index("ix_defect_photos_entry_key", "defect_photos", ["entry_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_defect_photos_entry_key", table_name="defect_photos")
    op.drop_table("defect_photos")
    op.drop_table("handover_notes")
