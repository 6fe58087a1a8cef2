"""Master data (items, BOM lines, routings, suppliers, customers, locations) and lots with movements and links.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import shopfloor.store.schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_customers")),
    )
    op.create_table(
        "items",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_items")),
    )
    op.create_table(
        "locations",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_locations")),
    )
    op.create_table(
        "suppliers",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_suppliers")),
    )
    op.create_table(
        "bom_lines",
        sa.Column("parent", sa.String(length=64), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("scrap_pct", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["component"], ["items.code"], name=op.f("fk_bom_lines_component_items")),
        sa.ForeignKeyConstraint(["parent"], ["items.code"], name=op.f("fk_bom_lines_parent_items")),
        sa.PrimaryKeyConstraint("parent", "component", name=op.f("pk_bom_lines")),
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=True),
        sa.Column("supplier", sa.String(length=64), nullable=True),
        sa.Column("supplier_lot", sa.String(length=64), nullable=True),
        sa.Column("certificate", sa.JSON(), nullable=True),
        sa.Column("work_order", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("created_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item"], ["items.code"], name=op.f("fk_lots_item_items")),
        sa.ForeignKeyConstraint(["location"], ["locations.code"], name=op.f("fk_lots_location_locations")),
        sa.ForeignKeyConstraint(["supplier"], ["suppliers.code"], name=op.f("fk_lots_supplier_suppliers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
        sa.UniqueConstraint("code", name=op.f("uq_lots_code")),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_item_status", ["item", "status"], unique=False)
        batch_op.create_index("ix_lots_supplier_lot", ["supplier", "supplier_lot"], unique=False)

    op.create_table(
        "operations",
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("work_centre", sa.String(length=64), nullable=False),
        sa.Column("ideal_cycle_s", sa.Float(), nullable=False),
        sa.Column("setup_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["item"], ["items.code"], name=op.f("fk_operations_item_items")),
        sa.PrimaryKeyConstraint("item", "seq", name=op.f("pk_operations")),
    )
    op.create_table(
        "lot_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("child_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.Column("ts", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["lots.id"], name=op.f("fk_lot_links_child_id_lots")),
        sa.ForeignKeyConstraint(["parent_id"], ["lots.id"], name=op.f("fk_lot_links_parent_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_links")),
    )
    with op.batch_alter_table("lot_links", schema=None) as batch_op:
        batch_op.create_index("ix_lot_links_child_parent", ["child_id", "parent_id"], unique=False)
        batch_op.create_index("ix_lot_links_parent_child", ["parent_id", "child_id"], unique=False)

    op.create_table(
        "lot_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.Column("balance_milli", sa.BigInteger(), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=True),
        sa.Column("work_order", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_movements_lot_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_movements")),
        sa.UniqueConstraint("key", name=op.f("uq_lot_movements_key")),
    )
    with op.batch_alter_table("lot_movements", schema=None) as batch_op:
        batch_op.create_index("ix_lot_movements_lot_id", ["lot_id", "id"], unique=False)
        batch_op.create_index("ix_lot_movements_work_order", ["work_order", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lot_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_movements_work_order")
        batch_op.drop_index("ix_lot_movements_lot_id")

    op.drop_table("lot_movements")
    with op.batch_alter_table("lot_links", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_links_parent_child")
        batch_op.drop_index("ix_lot_links_child_parent")

    op.drop_table("lot_links")
    op.drop_table("operations")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_supplier_lot")
        batch_op.drop_index("ix_lots_item_status")

    op.drop_table("lots")
    op.drop_table("bom_lines")
    op.drop_table("suppliers")
    op.drop_table("locations")
    op.drop_table("items")
    op.drop_table("customers")
