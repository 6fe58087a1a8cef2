"""Inspection characteristics and samples, nonconformance reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import shopfloor.store.schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_characteristics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("operation_seq", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("chart", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("nominal", sa.Float(), nullable=True),
        sa.Column("lsl", sa.Float(), nullable=True),
        sa.Column("usl", sa.Float(), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("every_parts", sa.Integer(), nullable=True),
        sa.Column("every_minutes", sa.Integer(), nullable=True),
        sa.Column("rules", sa.String(length=16), nullable=False),
        sa.Column("phase1", sa.Integer(), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("process_value", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_characteristics")),
        sa.UniqueConstraint("product", "code", name="uq_inspection_characteristics_product"),
    )
    op.create_table(
        "inspection_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("characteristic_id", sa.Integer(), nullable=False),
        sa.Column("ts", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=True),
        sa.Column("inspected", sa.Integer(), nullable=True),
        sa.Column("nonconforming", sa.Integer(), nullable=True),
        sa.Column("defect", sa.String(length=64), nullable=True),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("work_order", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("inspector", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["characteristic_id"],
            ["inspection_characteristics.id"],
            name=op.f("fk_inspection_samples_characteristic_id_inspection_characteristics"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_samples")),
        sa.UniqueConstraint("key", name=op.f("uq_inspection_samples_key")),
    )
    with op.batch_alter_table("inspection_samples", schema=None) as batch_op:
        batch_op.create_index("ix_inspection_samples_characteristic_id", ["characteristic_id", "ts"], unique=False)
        batch_op.create_index("ix_inspection_samples_lot", ["lot"], unique=False)
        batch_op.create_index("ix_inspection_samples_work_order", ["work_order"], unique=False)

    op.create_table(
        "ncrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("opened_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("work_order", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("characteristic_id", sa.Integer(), nullable=True),
        sa.Column("defect", sa.String(length=64), nullable=True),
        sa.Column("qty_milli", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disposition", sa.String(length=24), nullable=True),
        sa.Column("disposed_at", shopfloor.store.schema.UTCDateTime(), nullable=True),
        sa.Column("disposed_by", sa.String(length=200), nullable=True),
        sa.Column("disposition_note", sa.Text(), nullable=True),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["characteristic_id"],
            ["inspection_characteristics.id"],
            name=op.f("fk_ncrs_characteristic_id_inspection_characteristics"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncrs")),
        sa.UniqueConstraint("code", name=op.f("uq_ncrs_code")),
        sa.UniqueConstraint("key", name=op.f("uq_ncrs_key")),
    )
    with op.batch_alter_table("ncrs", schema=None) as batch_op:
        batch_op.create_index("ix_ncrs_lot", ["lot"], unique=False)
        batch_op.create_index("ix_ncrs_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ncrs", schema=None) as batch_op:
        batch_op.drop_index("ix_ncrs_status")
        batch_op.drop_index("ix_ncrs_lot")

    op.drop_table("ncrs")
    with op.batch_alter_table("inspection_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_inspection_samples_work_order")
        batch_op.drop_index("ix_inspection_samples_lot")
        batch_op.drop_index("ix_inspection_samples_characteristic_id")

    op.drop_table("inspection_samples")
    op.drop_table("inspection_characteristics")
