"""The store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Machine history (``machine_events``) is append-only: rows are inserted, never updated or deleted; a
correction is a new event.  ``hourly_rollups`` and ``local_rollups`` (the plant's local days and months) are
derived data, rebuilt from the events whenever they change, so that KPI queries over long periods never scan raw
history.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC instant.

    PostgreSQL keeps it as ``timestamptz``; SQLite, which has no date type, as integer microseconds since
    the Unix epoch, which sorts, compares and indexes exactly and keeps microseconds.
    """

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: store instants in UTC with an offset")
        value = value.astimezone(timezone.utc)
        if dialect.name == "postgresql":
            return value
        return to_micros(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            return value.astimezone(timezone.utc)
        return from_micros(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_micros(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("calendar", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

areas = Table(
    "areas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    UniqueConstraint("site_id", "code", name="uq_areas_site_code"),
)

lines = Table(
    "lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("area_id", Integer, ForeignKey("areas.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    UniqueConstraint("site_id", "code", name="uq_lines_site_code"),
)

machines = Table(
    "machines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("line_id", Integer, ForeignKey("lines.id"), nullable=False),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("connector", JSON, nullable=True),
    # A machine removed from the plant file keeps its history; it is only marked retired.
    Column("retired_at", UTCDateTime, nullable=True),
    Column("kind", String(64), nullable=True),  # its type (press, CNC lathe), as the plant names it
)

# A machine's photo, shown on the plant pages (one per machine, replaced by the next upload).
machine_photos = Table(
    "machine_photos",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("content_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("uploaded_by", String(100), nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("ideal_cycle_s", Float, nullable=True),
    Column("cycle_by_machine", JSON, nullable=False),
)

plant_imports = Table(
    "plant_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("document", JSON, nullable=False),
)

machine_events = Table(
    "machine_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("machine_id", Integer, ForeignKey("machines.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    # state | good | scrap | rework
    Column("kind", String(8), nullable=False),
    Column("state", String(16), nullable=True),
    Column("quantity", BigInteger, nullable=True),
    Column("product", String(64), nullable=True),
    Column("reason", String(64), nullable=True),
    Column("source", String(200), nullable=False),
    # The work order a count was made for, when one was running on the machine.
    Column("work_order", String(64), nullable=True),
    # Content hash (see model.events.event_key): the same event delivered twice is stored once.
    Column("event_key", String(32), nullable=False, unique=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_machine_events_machine_kind_ts", "machine_id", "kind", "ts"),
)

ROLLUP_FIELDS = (
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

hourly_rollups = Table(
    "hourly_rollups",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("hour", UTCDateTime, primary_key=True),
    *[Column(name, Float if name.endswith("_s") else BigInteger, nullable=False) for name in ROLLUP_FIELDS],
)

# The elements of one machine over one local day or month of the plant ("day" or "month"), midnight to midnight
# in the site's time zone, as UTC instants (a day across a daylight-saving change lasts 23 or 25 hours).
local_rollups = Table(
    "local_rollups",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("unit", String(5), primary_key=True),
    Column("period_start", UTCDateTime, primary_key=True),
    Column("period_end", UTCDateTime, nullable=False),
    *[Column(name, Float if name.endswith("_s") else BigInteger, nullable=False) for name in ROLLUP_FIELDS],
)

# Rollups of a machine are complete for [valid_from, valid_until); ``first_event``: the time of its first event,
# from which on its KPIs have data.
rollup_state = Table(
    "rollup_state",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("valid_from", UTCDateTime, nullable=True),
    Column("valid_until", UTCDateTime, nullable=True),
    Column("first_event", UTCDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("reason", Text, nullable=True),
)

# Process values (laser power, spindle load, ...) kept for SPC, after compression with a stated bound.
measurements = Table(
    "measurements",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("ts", UTCDateTime, primary_key=True),
    Column("value", Float, nullable=False),
    Column("quality", String(12), nullable=False),
)

# The ingest pipeline's own state (counter baselines, compression filters), committed with the rows it
# produced so that a restart neither recounts nor loses a held value.
ingest_state = Table(
    "ingest_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Input that could not be used (malformed payloads, impossible counter jumps): kept with the reason.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

ROLES = ("operator", "supervisor", "quality", "manager", "admin")
# In hub mode, users belong to an organisation: the program office, a sponsor (parent company) or a factory.
HUB_ROLES = ("office", "sponsor", "factory")

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # office, sponsor, factory
    # IANA zone its people read times in; an office in Asia/Seoul reads the hub in Korean unless they choose
    Column("timezone", String(64), nullable=False, server_default="Asia/Seoul"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    # operator | supervisor | quality | manager | admin
    Column("role", String(16), nullable=False),
    # argon2id hashes; an operator may have only a PIN (and a badge number) for the shared terminal.
    Column("password_hash", String(200), nullable=True),
    Column("pin_hash", String(200), nullable=True),
    Column("badge", String(64), nullable=True, unique=True),
    Column("language", String(8), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisations.id"), nullable=True),  # hub mode only
)

# Server-side sessions: the cookie carries a random token, the store only its SHA-256.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)

# Sign-in throttling: one row per key (an account, whatever alias it was named by, or a device), counting the
# failed tries of the current window; a try is reserved by a conditional UPDATE before its secret is checked.
sign_in_throttle = Table(
    "sign_in_throttle",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("last_try", UTCDateTime, nullable=True),
)

# Work orders: the current status is kept on the order; every change of it is an event with who and why.
work_orders = Table(
    "work_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("product", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("machine", String(64), nullable=True),
    Column("operator", String(200), nullable=True),  # the user assigned to it
    Column("priority", Integer, nullable=False),
    Column("due", UTCDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # One order in progress per machine, even when two start at the same instant.
    Index(
        "uq_work_orders_running_machine",
        "machine",
        unique=True,
        sqlite_where=text("status = 'in_progress'"),
        postgresql_where=text("status = 'in_progress'"),
    ),
)

work_order_events = Table(
    "work_order_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("work_order_id", Integer, ForeignKey("work_orders.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=True),
)

# Live SPC on process values: phase I limits estimated once from the first values, then frozen.
spc_limits = Table(
    "spc_limits",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("centre", Float, nullable=False),
    Column("sigma", Float, nullable=False),
    Column("baseline_points", Integer, nullable=False),
    Column("estimated_at", UTCDateTime, nullable=False),
)

# A rule violation on a watched value; acknowledged with a comment.  One alarm per rule and completing point.
alarms = Table(
    "alarms",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("machine_id", Integer, ForeignKey("machines.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("rule", String(16), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("value", Float, nullable=False),
    Column("points", JSON, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("ack_at", UTCDateTime, nullable=True),
    Column("ack_by", String(200), nullable=True),
    Column("ack_comment", Text, nullable=True),
    UniqueConstraint("machine_id", "name", "rule", "ts", name="uq_alarms_machine_id"),
)

# -- master data: items, BOMs, routings, partners, locations --------------------------------------------------
# Natural keys (codes) are what people type and print; the tables that refer to them use the code.
ITEM_KINDS = ("raw", "component", "wip", "finished", "consumable")

items = Table(
    "items",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("description", Text, nullable=True),
)

bom_lines = Table(
    "bom_lines",
    metadata,
    Column("parent", String(64), ForeignKey("items.code"), primary_key=True),
    Column("component", String(64), ForeignKey("items.code"), primary_key=True),
    Column("quantity", Float, nullable=False),  # of the component per one unit of the parent
    Column("scrap_pct", Float, nullable=False),  # allowance: gross = net x (1 + scrap_pct / 100)
)

operations = Table(
    "operations",
    metadata,
    Column("item", String(64), ForeignKey("items.code"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("work_centre", String(64), nullable=False),  # a machine or line code of the plant
    Column("ideal_cycle_s", Float, nullable=False),
    Column("setup_s", Float, nullable=False),
)

suppliers = Table(
    "suppliers",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=True),
    Column("contact", String(200), nullable=True),
)

customers = Table(
    "customers",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=True),
    Column("contact", String(200), nullable=True),
)

locations = Table(
    "locations",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # store, line, wip, shipping, quarantine
)

# -- lots: quantities are integer thousandths of the item's unit, so splits and merges conserve exactly -------
lots = Table(
    "lots",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("item", String(64), ForeignKey("items.code"), nullable=False),
    Column("qty_milli", BigInteger, nullable=False),  # on hand
    Column("status", String(16), nullable=False),
    Column("location", String(64), ForeignKey("locations.code"), nullable=True),
    Column("supplier", String(64), ForeignKey("suppliers.code"), nullable=True),
    Column("supplier_lot", String(64), nullable=True),
    Column("certificate", JSON, nullable=True),
    Column("work_order", String(64), nullable=True),
    Column("machine", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_lots_item_status", "item", "status"),
    Index("ix_lots_supplier_lot", "supplier", "supplier_lot"),
)

# Every change of a lot is a movement: the signed quantity and the balance after it, who, where and why.
lot_movements = Table(
    "lot_movements",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("lot_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("lots.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("qty_milli", BigInteger, nullable=False),
    Column("balance_milli", BigInteger, nullable=False),
    Column("location", String(64), nullable=True),
    Column("work_order", String(64), nullable=True),
    Column("machine", String(64), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("ref", String(200), nullable=True),  # customer, shipment, other lot, defect code
    Column("note", Text, nullable=True),
    Column("key", String(128), nullable=True, unique=True),  # idempotency key of the request
    Index("ix_lot_movements_lot_id", "lot_id", "id"),
    Index("ix_lot_movements_work_order", "work_order", "kind"),
)

# Genealogy: the parent (input) lot went into the child (output) lot.  Both directions are indexed with the
# other end included, so a recursive trace reads only the index.
lot_links = Table(
    "lot_links",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("parent_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("lots.id"), nullable=False),
    Column("child_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("lots.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # consume, split, merge
    Column("qty_milli", BigInteger, nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("work_order", String(64), nullable=True),
    Column("machine", String(64), nullable=True),
    Column("actor", String(200), nullable=False),
    Index("ix_lot_links_child_parent", "child_id", "parent_id"),
    Index("ix_lot_links_parent_child", "parent_id", "child_id"),
)

# -- inspections and nonconformances --------------------------------------------------------------------------
# A characteristic of a product (at an operation) to inspect: a variable with nominal and specification limits,
# or an attribute (nonconforming units or defects counted); its chart, sample size and frequency.  A variable
# may instead come from a machine's process value (``machine`` + ``process_value``).
inspection_characteristics = Table(
    "inspection_characteristics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("product", String(64), nullable=False),
    Column("operation_seq", Integer, nullable=True),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # variable, attribute
    Column("chart", String(16), nullable=False),  # xbar-r, xbar-s, imr, ewma, cusum, p, np, c, u
    Column("unit", String(16), nullable=True),
    Column("nominal", Float, nullable=True),
    Column("lsl", Float, nullable=True),
    Column("usl", Float, nullable=True),
    Column("sample_size", Integer, nullable=False),
    Column("every_parts", Integer, nullable=True),
    Column("every_minutes", Integer, nullable=True),
    Column("rules", String(200), nullable=True),  # nelson, we or limits [:rules with parameters]; null: the chart's
    Column("phase1", Integer, nullable=True),  # subgroups that set the limits; then frozen
    Column("options", JSON, nullable=True),  # chart options (nsigmas, known centre and sigma, EWMA, CUSUM, capability)
    Column("valid_min", Float, nullable=True),  # the plausible range of a measurement (a gauge's range)
    Column("valid_max", Float, nullable=True),
    Column("machine", String(64), nullable=True),
    Column("process_value", String(64), nullable=True),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("product", "code", name="uq_inspection_characteristics_product"),
)

inspection_samples = Table(
    "inspection_samples",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("characteristic_id", Integer, ForeignKey("inspection_characteristics.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("measurements", JSON, nullable=True),  # variables: the subgroup's values
    Column("inspected", Integer, nullable=True),  # attributes: units inspected
    Column("nonconforming", Integer, nullable=True),  # attributes: nonconforming units or defects counted
    Column("defect", String(64), nullable=True),
    Column("lot", String(64), nullable=True),
    Column("work_order", String(64), nullable=True),
    Column("machine", String(64), nullable=True),
    Column("inspector", String(200), nullable=False),
    Column("source", String(16), nullable=False),  # terminal, api, csv
    Column("key", String(128), nullable=True, unique=True),
    Column("excluded_reason", Text, nullable=True),  # left out of the phase I limits (assignable cause); still charted
    Column("void_reason", Text, nullable=True),  # voided (a wrong entry): kept, never charted
    Column("voided_by", String(200), nullable=True),
    Column("voided_at", UTCDateTime, nullable=True),
    Index("ix_inspection_samples_characteristic_id", "characteristic_id", "ts"),
    Index("ix_inspection_samples_lot", "lot"),
    Index("ix_inspection_samples_work_order", "work_order"),
)

# A nonconformance: what was found, on which lot / order / machine, and what was decided.
ncrs = Table(
    "ncrs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("lot", String(64), nullable=True),
    Column("work_order", String(64), nullable=True),
    Column("machine", String(64), nullable=True),
    Column("characteristic_id", Integer, ForeignKey("inspection_characteristics.id"), nullable=True),
    Column("defect", String(64), nullable=True),
    Column("qty_milli", BigInteger, nullable=True),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open, closed
    Column("disposition", String(24), nullable=True),  # scrap, rework, use_as_is, return_to_supplier
    Column("disposed_at", UTCDateTime, nullable=True),
    Column("disposed_by", String(200), nullable=True),
    Column("disposition_note", Text, nullable=True),
    Column("key", String(128), nullable=True, unique=True),
    Index("ix_ncrs_lot", "lot"),
    Index("ix_ncrs_status", "status"),
)

# -- scheduled reports: what to send after each shift or day, where, and how the last attempts went -----------
report_schedules = Table(
    "report_schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("period", String(8), nullable=False),  # shift, day
    Column("line", String(64), nullable=True),
    Column("lang", String(8), nullable=False),
    Column("formats", String(16), nullable=False),  # pdf, xlsx, pdf+xlsx
    Column("delivery", String(8), nullable=False),  # folder, email
    Column("target", Text, nullable=False),  # a folder, or e-mail addresses separated by commas
    Column("active", Boolean, nullable=False),
    Column("last_period", String(64), nullable=True),  # the last period delivered, e.g. 2026-03-02/Day
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),  # failed attempts at the current period
    Column("last_error", Text, nullable=True),
    # The worker making this schedule's reports now, and until when its lease holds (one worker of many sends).
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
)

# Long report runs started from a page: their progress and result, readable by every web worker.
background_jobs = Table(
    "background_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # running, finished, failed
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("error", JSON, nullable=True),  # the refusal: code, params, message
    Column("result", JSON, nullable=True),
    Column("worker", String(64), nullable=False),  # the process running it
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index("ix_background_jobs_ended_at", "ended_at"),
)


# -- hub: programs, funding rules, projects, the ledger, consents and signed outcome reports ------------------
programs = Table(
    "programs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kpis", JSON, nullable=True),  # the KPIs the program follows; None: the default list
)

# A program's rule for one project type and year, in force from a day (model.funding.Rule); its parties' limits
# are rows of funding_rule_parties, percentages kept as exact decimal text.
funding_rules = Table(
    "funding_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("program_id", Integer, ForeignKey("programs.id"), nullable=False),
    Column("project_type", String(32), nullable=False),
    Column("year", Integer, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date, nullable=True),
    Column("total_min", BigInteger, nullable=True),
    Column("total_max", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
    UniqueConstraint("program_id", "project_type", "year", "effective_from", name="uq_funding_rules_program_id"),
)

funding_rule_parties = Table(
    "funding_rule_parties",
    metadata,
    Column("rule_id", Integer, ForeignKey("funding_rules.id"), primary_key=True),
    Column("party", String(32), primary_key=True),
    Column("min_pct", String(12), nullable=True),
    Column("max_pct", String(12), nullable=True),
    Column("cap", BigInteger, nullable=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=True),
    Column("program_id", Integer, ForeignKey("programs.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("project_type", String(32), nullable=False),
    Column("agreed_on", Date, nullable=False),  # the agreement's day: the rule in force then applies
    Column("rule_id", Integer, ForeignKey("funding_rules.id"), nullable=True),
    Column("factory_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("sponsor_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("budget", BigInteger, nullable=False),  # the project total, in won
    Column("baseline", JSON, nullable=False),  # KPI -> value before the build
    Column("target", JSON, nullable=False),  # KPI -> value the build aims at
    Column("description", Text, nullable=True),
    Index("ix_projects_sponsor_id", "sponsor_id"),
    Index("ix_projects_factory_id", "factory_id"),
)

# What each party committed to pay for a project (state, sponsor, sme, local, ...), in won.
project_shares = Table(
    "project_shares",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True),
    Column("party", String(32), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

milestones = Table(
    "milestones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("due", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Column("done_by", String(100), nullable=True),
)

# Money moved for a project: a party's contribution (paid in) or payment (paid out of its share).  Never changed:
# a correction is a reversing entry (the negative amount, naming the entry it reverses, with its reason).
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("party", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # contribution, payment
    Column("amount", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
    Column(
        "reverses", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("ledger.id"), nullable=True, unique=True
    ),
    Column("actor", String(100), nullable=True),
    Index("ix_ledger_project_id", "project_id"),
)

# A factory's Ed25519 public keys, one in use at a time; a replaced key is retired (what it signed stays
# verified), a revoked one signs nothing more.  A key is registered once, for one factory.
factory_keys = Table(
    "factory_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("factory_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("public_key", LargeBinary, nullable=False, unique=True),
    Column("fingerprint", String(16), nullable=False, unique=True),
    Column("added_at", UTCDateTime, nullable=False),
    Column("added_by", String(100), nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoke_reason", Text, nullable=True),
    Index(
        "uq_factory_keys_in_use",
        "factory_id",
        unique=True,
        sqlite_where=text("retired_at IS NULL AND revoked_at IS NULL"),
        postgresql_where=text("retired_at IS NULL AND revoked_at IS NULL"),
    ),
)

# What a factory agreed to share with a sponsor: which KPIs, monthly; a withdrawn consent hides it from the sponsor.
consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("factory_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("sponsor_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("kpis", JSON, nullable=False),
    Column("granularity", String(8), nullable=False),  # month
    Column("granted_at", UTCDateTime, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Column("text_version", String(16), nullable=True),  # the consent text the factory agreed to
    Index("ix_consents_factory_id", "factory_id", "sponsor_id"),
)

# A month, a KPI, or a KPI of a month a factory took back: hidden per factory from sponsors and the office for
# what was received before the withdrawal (a month sent again afterwards is shared again).
withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("factory_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("period", String(7), nullable=True),
    Column("kpi", String(40), nullable=True),
    Column("withdrawn_at", UTCDateTime, nullable=False),
    Index("ix_withdrawals_factory_id", "factory_id"),
)

outcome_reports = Table(
    "outcome_reports",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("factory_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("sponsor_id", Integer, ForeignKey("organisations.id"), nullable=True),  # named in the report, if any
    Column("consent_id", Integer, ForeignKey("consents.id"), nullable=True),
    Column("key_id", Integer, ForeignKey("factory_keys.id"), nullable=True),  # the key that signed it
    Column("period", String(7), nullable=False),  # YYYY-MM
    Column("kpis", JSON, nullable=False),
    Column("partial", Boolean, nullable=False, server_default=text("false")),
    Column("coverage", JSON, nullable=True),
    # a later report of the same month replaced this one (a correction); only the latest is current
    Column("superseded", Boolean, nullable=False, server_default=text("false")),
    Column("payload", Text, nullable=False),  # the canonical JSON that was signed
    Column("signature", LargeBinary, nullable=False),
    Column("nonce", String(64), nullable=False, unique=True),
    Column("signed_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_outcome_reports_sponsor_period", "sponsor_id", "period"),
    Index("ix_outcome_reports_factory_period", "factory_id", "period"),
    Index(
        "uq_outcome_reports_current",
        "factory_id",
        "period",
        unique=True,
        sqlite_where=text("superseded = 0"),
        postgresql_where=text("superseded = false"),
    ),
)

# Figures the program asks of a factory that its MES does not measure (sales, employees, cost), entered by the
# factory and shown as self-reported; the newest entry of a year and item counts.
self_reported = Table(
    "self_reported",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("factory_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("item", String(32), nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("entered_by", String(100), nullable=False),
    Index("ix_self_reported_factory_id", "factory_id", "year"),
)

# Per machine, the ingest mapping's state (counter baselines, compression filters, current state, product): shared
# by every ingest worker through a row lock, so workers that split one machine's messages count each part once.
machine_ingest_state = Table(
    "machine_ingest_state",
    metadata,
    Column("machine_id", Integer, ForeignKey("machines.id"), primary_key=True),
    Column("state", JSON, nullable=False),
)

# A work order whose input is under recall: every output lot it makes from now on is created on hold.
order_holds = Table(
    "order_holds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("work_order", String(64), nullable=False),
    Column("lot", String(64), nullable=False),  # the suspect lot of the recall
    Column("reason", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    UniqueConstraint("work_order", "lot", name="uq_order_holds_work_order_lot"),
)

# Sign-in and sign-out of operators at a machine (the terminal, by badge): worker-hours per machine, line, shift.
attendance = Table(
    "attendance",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("machine", String(64), nullable=False),
    Column("signed_in", UTCDateTime, nullable=False),
    Column("signed_out", UTCDateTime, nullable=True),
    Column("actor", String(200), nullable=False),
    Index("ix_attendance_machine_in", "machine", "signed_in"),
    # one open sign-in per person, even when two terminals sign them in at the same instant
    Index(
        "uq_attendance_open",
        "username",
        unique=True,
        sqlite_where=text("signed_out IS NULL"),
        postgresql_where=text("signed_out IS NULL"),
    ),
)
# == maintenance and moulds (revision 0020) ===================================================================
# A mould or tool: it moves between machines (``mould_mounts``); its shots are counted from the counts of the
# machine it is mounted on (one shot makes ``cavities`` parts), plus the shots it had when it was registered.
moulds = Table(
    "moulds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("cavities", Integer, nullable=False),
    Column("life_shots", BigInteger, nullable=True),
    Column("initial_shots", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

mould_mounts = Table(
    "mould_mounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mould_id", Integer, ForeignKey("moulds.id"), nullable=False),
    Column("machine", String(64), nullable=False),
    Column("mounted_at", UTCDateTime, nullable=False),
    Column("mounted_by", String(200), nullable=False),
    Column("unmounted_at", UTCDateTime, nullable=True),
    Column("unmounted_by", String(200), nullable=True),
    # A mould is on one machine at a time, and a machine holds one mould at a time.
    Index(
        "uq_mould_mounts_open_mould",
        "mould_id",
        unique=True,
        sqlite_where=text("unmounted_at IS NULL"),
        postgresql_where=text("unmounted_at IS NULL"),
    ),
    Index(
        "uq_mould_mounts_open_machine",
        "machine",
        unique=True,
        sqlite_where=text("unmounted_at IS NULL"),
        postgresql_where=text("unmounted_at IS NULL"),
    ),
)

# A preventive maintenance plan of a machine or a mould (exactly one of the two): its trigger (calendar,
# run_hours, cycles, shots), interval and warning margin in the trigger's unit, the planned length of the work
# (planned downtime), its checklist, and when it was last done (usage is counted from then).
maintenance_plans = Table(
    "maintenance_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("machine", String(64), nullable=True),
    Column("mould", String(64), nullable=True),
    Column("trigger", String(16), nullable=False),
    Column("interval", Float, nullable=False),
    Column("warn_before", Float, nullable=False),
    Column("planned_minutes", Float, nullable=False),
    Column("checklist", JSON, nullable=False),
    Column("last_done_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# A maintenance order: preventive (from a plan) or a breakdown (raised at the terminal, on a page, or by the
# server when a machine stays down); acknowledged and closed by maintenance staff with the checklist, the parts,
# the labour and who did it.  ``down_since``: the start of the downtime it repairs.
maintenance_orders = Table(
    "maintenance_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("machine", String(64), nullable=True),
    Column("mould", String(64), nullable=True),
    Column("plan_id", Integer, ForeignKey("maintenance_plans.id"), nullable=True),
    Column("description", Text, nullable=True),
    Column("source", String(16), nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("raised_by", String(200), nullable=False),
    Column("down_since", UTCDateTime, nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("started_by", String(200), nullable=True),
    Column("planned_minutes", Float, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("checklist", JSON, nullable=False),
    Column("parts", JSON, nullable=False),
    Column("labour_minutes", Float, nullable=False),
    Column("cost", Float, nullable=False),
    Column("note", Text, nullable=True),
    Index("ix_maintenance_orders_machine", "machine", "raised_at"),
    # One open breakdown per machine: the terminal and the server's watch cannot raise the same one twice.
    Index(
        "uq_maintenance_orders_open_breakdown",
        "machine",
        unique=True,
        sqlite_where=text("kind = 'breakdown' AND status != 'closed'"),
        postgresql_where=text("kind = 'breakdown' AND status != 'closed'"),
    ),
    # One open order per plan.
    Index(
        "uq_maintenance_orders_open_plan",
        "plan_id",
        unique=True,
        sqlite_where=text("status != 'closed'"),
        postgresql_where=text("status != 'closed'"),
    ),
)

# == documents and NC programs (revision 0020b) ===============================================================
# A controlled document of an item, an operation and/or a machine: a work instruction, drawing, inspection sheet,
# set-up sheet, or an NC program (made from a design: ``design_ref``).
documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("item", String(64), nullable=True),
    Column("operation_seq", Integer, nullable=True),
    Column("machine", String(64), nullable=True),
    Column("design_ref", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
)

# Its revisions: the file (size-limited, with its SHA-256), draft until approved; an approved revision is in
# force from its effective date until a later approved one takes effect (then it is superseded).  An NC program's
# revision names the design revision and the CAD/CAM file's hash it was made from, and the program name the
# control reports while it runs it.
document_revisions = Table(
    "document_revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("revision", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("note", Text, nullable=True),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("uploaded_by", String(200), nullable=False),
    Column("approved_at", UTCDateTime, nullable=True),
    Column("approved_by", String(200), nullable=True),
    Column("effective_from", UTCDateTime, nullable=True),
    Column("design_revision", String(64), nullable=True),
    Column("cad_sha256", String(64), nullable=True),
    Column("program_name", String(64), nullable=True),
    UniqueConstraint("document_id", "revision"),
)

# An operator confirmed reading a revision for a work order at a machine (at order start).
document_confirmations = Table(
    "document_confirmations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision_id", Integer, ForeignKey("document_revisions.id"), nullable=False),
    Column("work_order", String(64), nullable=False),
    Column("machine", String(64), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=False),
    UniqueConstraint("revision_id", "work_order", "operator"),
)

# Where a machine's control takes its NC programs: ftp://user:password@host:port/folder or a shared folder.
dnc_targets = Table(
    "dnc_targets",
    metadata,
    Column("machine", String(64), primary_key=True),
    Column("url", String(500), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Each program sent to a machine, and the program the machine reported running (checked against the approved one).
nc_transfers = Table(
    "nc_transfers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision_id", Integer, ForeignKey("document_revisions.id"), nullable=False),
    Column("machine", String(64), nullable=False),
    Column("target", String(500), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("sent_by", String(200), nullable=False),
    Column("remote_name", String(200), nullable=False),
)

# == skills and certifications (revision 0020b) ================================================================
skills = Table(
    "skills",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
)

# The skills an operation of an item needs: nobody without them (valid) may start it.
operation_skills = Table(
    "operation_skills",
    metadata,
    Column("item", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("skill", String(64), ForeignKey("skills.code"), primary_key=True),
)

# An operator's certification in a skill, valid until ``expires_at`` (None: without expiry).
operator_skills = Table(
    "operator_skills",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("skill", String(64), ForeignKey("skills.code"), primary_key=True),
    Column("certified_at", UTCDateTime, nullable=False),
    Column("certified_by", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
)

# -- the floor: what one shift leaves the next, and pictures of defects --------------------------------------------
# A machine's handover note of one shift occurrence (its key: local day and shift name), the latest text kept.
handover_notes = Table(
    "handover_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("machine_id", Integer, ForeignKey("machines.id"), nullable=False),
    Column("shift_key", String(80), nullable=False),
    Column("shift", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("written_at", UTCDateTime, nullable=False),
    Column("written_by", String(200), nullable=False),
    UniqueConstraint("machine_id", "shift_key", name="uq_handover_notes_machine_shift"),
)

# A photo of a defect, attached to the terminal's scrap entry (by the entry's key).
defect_photos = Table(
    "defect_photos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("machine_id", Integer, ForeignKey("machines.id"), nullable=False),
    Column("entry_key", String(64), nullable=False),
    Column("defect", String(64), nullable=True),
    Column("content_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("taken_by", String(200), nullable=False),
    # one photo per scrap entry: a terminal that resends it (its answer lost) finds the one stored
    Index("ix_defect_photos_entry_key", "entry_key", unique=True),
)
