"""Plant (site, areas, lines, machines, products), the machine event log, hourly rollups and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID64 = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("calendar", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.UniqueConstraint("code", name="uq_sites_code"),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", name="fk_areas_site_id_sites"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_areas"),
        sa.UniqueConstraint("site_id", "code", name="uq_areas_site_code"),
    )
    op.create_table(
        "lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", name="fk_lines_site_id_sites"), nullable=False),
        sa.Column("area_id", sa.Integer, sa.ForeignKey("areas.id", name="fk_lines_area_id_areas"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lines"),
        sa.UniqueConstraint("site_id", "code", name="uq_lines_site_code"),
    )
    op.create_table(
        "machines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", name="fk_machines_site_id_sites"), nullable=False),
        sa.Column("line_id", sa.Integer, sa.ForeignKey("lines.id", name="fk_machines_line_id_lines"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("connector", sa.JSON, nullable=True),
        sa.Column("retired_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_machines"),
        sa.UniqueConstraint("code", name="uq_machines_code"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", name="fk_products_site_id_sites"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ideal_cycle_s", sa.Float, nullable=True),
        sa.Column("cycle_by_machine", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("code", name="uq_products_code"),
    )
    op.create_table(
        "plant_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "site_id", sa.Integer, sa.ForeignKey("sites.id", name="fk_plant_imports_site_id_sites"), nullable=False
        ),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plant_imports"),
    )
    op.create_table(
        "machine_events",
        sa.Column("id", _ID64, primary_key=True, autoincrement=True),
        sa.Column(
            "machine_id",
            sa.Integer,
            sa.ForeignKey("machines.id", name="fk_machine_events_machine_id_machines"),
            nullable=False,
        ),
        sa.Column("ts", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("quantity", sa.BigInteger, nullable=True),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("event_key", sa.String(32), nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_machine_events"),
        sa.UniqueConstraint("event_key", name="uq_machine_events_event_key"),
    )
    op.create_index("ix_machine_events_machine_kind_ts", "machine_events", ["machine_id", "kind", "ts"])
    rollup_columns = [
        sa.Column(name, sa.Float if name.endswith("_s") else sa.BigInteger, nullable=False)
        for name in (
            "pbt_s",
            "apt_s",
            "asut_s",
            "adet_s",
            "pdot_s",
            "unknown_s",
            "overtime_s",
            "down_s",
            "failures",
            "pq",
            "gq",
            "sq",
            "rq",
            "ideal_s",
            "pq_without_pru",
        )
    ]
    op.create_table(
        "hourly_rollups",
        sa.Column(
            "machine_id",
            sa.Integer,
            sa.ForeignKey("machines.id", name="fk_hourly_rollups_machine_id_machines"),
            nullable=False,
        ),
        sa.Column("hour", UTCDateTime, nullable=False),
        *rollup_columns,
        sa.PrimaryKeyConstraint("machine_id", "hour", name="pk_hourly_rollups"),
    )
    op.create_table(
        "rollup_state",
        sa.Column(
            "machine_id",
            sa.Integer,
            sa.ForeignKey("machines.id", name="fk_rollup_state_machine_id_machines"),
            nullable=False,
        ),
        sa.Column("valid_from", UTCDateTime, nullable=True),
        sa.Column("valid_until", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("machine_id", name="pk_rollup_state"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID64, primary_key=True, autoincrement=True),
        sa.Column("ts", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "rollup_state",
        "hourly_rollups",
        "machine_events",
        "plant_imports",
        "products",
        "machines",
        "lines",
        "areas",
        "sites",
    ):
        op.drop_table(table)
