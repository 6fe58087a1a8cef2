"""Hub programs: funding rules as data (per party minimum and maximum shares and caps, project totals, effective
dates), project shares per party, a ledger with reversing entries, factory keys with their history, withdrawals
of a month or a KPI, partial and corrected months, self-reported figures, the organisations' time zones.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import hashlib
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(timezone.utc)

    # -- organisations: a time zone each; factory keys move to their own table, with their history ------------
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Seoul"))
    op.create_table(
        "factory_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["factory_id"], ["organisations.id"], name=op.f("fk_factory_keys_factory_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factory_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_factory_keys_public_key")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_factory_keys_fingerprint")),
    )
    in_use = sa.text("retired_at IS NULL AND revoked_at IS NULL")
    op.create_index(
        "uq_factory_keys_in_use",
        "factory_keys",
        ["factory_id"],
        unique=True,
        sqlite_where=in_use,
        postgresql_where=in_use,
    )
    keys = sa.table(
        "factory_keys",
        sa.column("id", sa.Integer),
        sa.column("factory_id", sa.Integer),
        sa.column("public_key", sa.LargeBinary),
        sa.column("fingerprint", sa.String),
        sa.column("added_at", UTCDateTime()),
        sa.column("added_by", sa.String),
    )
    seen: set[bytes] = set()
    for org_id, key in bind.execute(sa.text("SELECT id, public_key FROM organisations WHERE public_key IS NOT NULL")):
        key = bytes(key)
        if key in seen:  # two factories registered the same key: neither may sign with it any more
            continue
        seen.add(key)
        bind.execute(
            sa.insert(keys).values(
                factory_id=org_id,
                public_key=key,
                added_at=now,
                fingerprint=hashlib.sha256(key).hexdigest()[:16],
                added_by="migration",
            )
        )
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("public_key")

    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("kpis", sa.JSON(), nullable=True))

    # -- funding rules: one row per program, type, year and day in force; a row per party's limits -----------
    old_rules = bind.execute(
        sa.text("SELECT program_id, year, level, state_max_pct, sponsor_min_pct, state_cap FROM funding_rules")
    ).all()
    op.drop_table("funding_rules")
    op.create_table(
        "funding_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("project_type", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("total_min", sa.BigInteger(), nullable=True),
        sa.Column("total_max", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_funding_rules_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_rules")),
        sa.UniqueConstraint("program_id", "project_type", "year", "effective_from", name="uq_funding_rules_program_id"),
    )
    op.create_table(
        "funding_rule_parties",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(32), nullable=False),
        sa.Column("min_pct", sa.String(12), nullable=True),
        sa.Column("max_pct", sa.String(12), nullable=True),
        sa.Column("cap", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["funding_rules.id"], name=op.f("fk_funding_rule_parties_rule_id_funding_rules")
        ),
        sa.PrimaryKeyConstraint("rule_id", "party", name=op.f("pk_funding_rule_parties")),
    )
    rules = sa.table(
        "funding_rules",
        sa.column("id", sa.Integer),
        sa.column("program_id", sa.Integer),
        sa.column("project_type", sa.String),
        sa.column("year", sa.Integer),
        sa.column("effective_from", sa.Date),
    )
    parties = sa.table(
        "funding_rule_parties",
        sa.column("rule_id", sa.Integer),
        sa.column("party", sa.String),
        sa.column("min_pct", sa.String),
        sa.column("max_pct", sa.String),
        sa.column("cap", sa.BigInteger),
    )
    rule_of: dict[tuple[int, int, str], int] = {}
    for program_id, year, level, state_max, sponsor_min, state_cap in old_rules:
        rid = bind.execute(
            sa.insert(rules).values(
                program_id=program_id, project_type=level, year=year, effective_from=date(year, 1, 1)
            )
        ).inserted_primary_key[0]
        rule_of[(program_id, year, level)] = rid
        bind.execute(
            sa.insert(parties),
            [
                {"rule_id": rid, "party": "state", "min_pct": None, "max_pct": f"{state_max:g}", "cap": state_cap},
                {"rule_id": rid, "party": "sponsor", "min_pct": f"{sponsor_min:g}", "max_pct": None, "cap": None},
                {"rule_id": rid, "party": "sme", "min_pct": None, "max_pct": None, "cap": None},
            ],
        )

    # -- projects: a type, the agreement's day and its rule; shares per party in their own table -------------
    op.create_table(
        "project_shares",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_project_shares_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", "party", name=op.f("pk_project_shares")),
    )
    old_projects = bind.execute(
        sa.text("SELECT id, program_id, year, level, state_amount, sponsor_amount, factory_amount FROM projects")
    ).all()
    shares = sa.table(
        "project_shares",
        sa.column("project_id", sa.Integer),
        sa.column("party", sa.String),
        sa.column("amount", sa.BigInteger),
    )
    for pid, _, _, _, state, sponsor, factory in old_projects:
        bind.execute(
            sa.insert(shares),
            [
                {"project_id": pid, "party": p, "amount": a}
                for p, a in (("state", state), ("sponsor", sponsor), ("sme", factory))
            ],
        )
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("project_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("agreed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("rule_id", sa.Integer(), nullable=True))
    projects = sa.table(
        "projects",
        sa.column("id", sa.Integer),
        sa.column("project_type", sa.String),
        sa.column("agreed_on", sa.Date),
        sa.column("rule_id", sa.Integer),
    )
    for pid, program_id, year, level, *_ in old_projects:
        bind.execute(
            sa.update(projects)
            .where(projects.c.id == pid)
            .values(project_type=level, agreed_on=date(year, 1, 1), rule_id=rule_of.get((program_id, year, level)))
        )
    with op.batch_alter_table("projects") as batch:
        batch.alter_column("project_type", existing_type=sa.String(32), nullable=False)
        batch.alter_column("agreed_on", existing_type=sa.Date(), nullable=False)
        batch.create_foreign_key(op.f("fk_projects_rule_id_funding_rules"), "funding_rules", ["rule_id"], ["id"])
        for column in ("level", "state_amount", "sponsor_amount", "factory_amount"):
            batch.drop_column(column)

    with op.batch_alter_table("milestones") as batch:
        batch.add_column(sa.Column("done_by", sa.String(100), nullable=True))

    # -- the ledger: parties by the same names as the shares; reversing entries -------------------------------
    with op.batch_alter_table("ledger") as batch:
        batch.alter_column(
            "funder", new_column_name="party", existing_type=sa.String(16), type_=sa.String(32), existing_nullable=False
        )
        batch.add_column(sa.Column("reverses", ID, nullable=True))
        batch.add_column(sa.Column("actor", sa.String(100), nullable=True))
        batch.create_foreign_key(op.f("fk_ledger_reverses_ledger"), "ledger", ["reverses"], ["id"])
        batch.create_unique_constraint(op.f("uq_ledger_reverses"), ["reverses"])
    bind.execute(sa.text("UPDATE ledger SET party = 'sme' WHERE party = 'factory'"))

    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("text_version", sa.String(16), nullable=True))
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(7), nullable=True),
        sa.Column("kpi", sa.String(40), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"], ["organisations.id"], name=op.f("fk_withdrawals_factory_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
    )
    op.create_index("ix_withdrawals_factory_id", "withdrawals", ["factory_id"])

    # -- outcome reports: the key that signed, partial months, corrections -------------------------------------
    with op.batch_alter_table("outcome_reports") as batch:
        batch.alter_column("sponsor_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("consent_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("key_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("partial", sa.Boolean(), nullable=False, server_default=sa.text("false")))
        batch.add_column(sa.Column("coverage", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("superseded", sa.Boolean(), nullable=False, server_default=sa.text("false")))
        batch.create_foreign_key(op.f("fk_outcome_reports_key_id_factory_keys"), "factory_keys", ["key_id"], ["id"])
    bind.execute(
        sa.text(
            "UPDATE outcome_reports SET superseded = true WHERE id NOT IN "
            "(SELECT max(id) FROM outcome_reports GROUP BY factory_id, period)"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE outcome_reports SET key_id = (SELECT k.id FROM factory_keys k "
            "WHERE k.factory_id = outcome_reports.factory_id)"
        )
    )
    op.create_index(
        "uq_outcome_reports_current",
        "outcome_reports",
        ["factory_id", "period"],
        unique=True,
        sqlite_where=sa.text("superseded = 0"),
        postgresql_where=sa.text("superseded = false"),
    )

    op.create_table(
        "self_reported",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("entered_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"], ["organisations.id"], name=op.f("fk_self_reported_factory_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_reported")),
    )
    op.create_index("ix_self_reported_factory_id", "self_reported", ["factory_id", "year"])


def downgrade() -> None:
    raise NotImplementedError("the hub's program schema is not taken back: restore a backup of the older version")
