"""Inspection characteristics: chart options, a plausible range of measurements, rule sets with parameters;
samples: excluded from the limits with a reason, or voided with a reason (kept, never charted).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import shopfloor.store.schema

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspection_characteristics") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("valid_min", sa.Float(), nullable=True))
        batch.add_column(sa.Column("valid_max", sa.Float(), nullable=True))
        batch.alter_column("rules", existing_type=sa.String(16), type_=sa.String(200), nullable=True)
    with op.batch_alter_table("inspection_samples") as batch:
        batch.add_column(sa.Column("excluded_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("voided_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("voided_at", shopfloor.store.schema.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inspection_samples") as batch:
        for name in ("voided_at", "voided_by", "void_reason", "excluded_reason"):
            batch.drop_column(name)
    with op.batch_alter_table("inspection_characteristics") as batch:
        batch.alter_column("rules", existing_type=sa.String(200), type_=sa.String(16), nullable=False)
        for name in ("valid_max", "valid_min", "options"):
            batch.drop_column(name)
