"""Hub: organisations (and users' organisation), programs, funding rules, projects, milestones, the ledger,
consents and signed outcome reports.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import shopfloor.store.schema

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("code", name=op.f("uq_organisations_code")),
    )
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("code", name=op.f("uq_programs_code")),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("granted_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", shopfloor.store.schema.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["factory_id"], ["organisations.id"], name=op.f("fk_consents_factory_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["organisations.id"], name=op.f("fk_consents_sponsor_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index("ix_consents_factory_id", ["factory_id", "sponsor_id"], unique=False)

    op.create_table(
        "funding_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("state_max_pct", sa.Float(), nullable=False),
        sa.Column("sponsor_min_pct", sa.Float(), nullable=False),
        sa.Column("state_cap", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_funding_rules_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_rules")),
        sa.UniqueConstraint("program_id", "year", "level", name="uq_funding_rules_program_id"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("state_amount", sa.BigInteger(), nullable=False),
        sa.Column("sponsor_amount", sa.BigInteger(), nullable=False),
        sa.Column("factory_amount", sa.BigInteger(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["factory_id"], ["organisations.id"], name=op.f("fk_projects_factory_id_organisations")
        ),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_projects_program_id_programs")),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["organisations.id"], name=op.f("fk_projects_sponsor_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("code", name=op.f("uq_projects_code")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index("ix_projects_factory_id", ["factory_id"], unique=False)
        batch_op.create_index("ix_projects_sponsor_id", ["sponsor_id"], unique=False)

    op.create_table(
        "ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("ts", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("funder", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_ledger_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger")),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_project_id", ["project_id"], unique=False)

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("due", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("done_at", shopfloor.store.schema.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_milestones_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    op.create_table(
        "outcome_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("signed_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.Column("received_at", shopfloor.store.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name=op.f("fk_outcome_reports_consent_id_consents")),
        sa.ForeignKeyConstraint(
            ["factory_id"], ["organisations.id"], name=op.f("fk_outcome_reports_factory_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["organisations.id"], name=op.f("fk_outcome_reports_sponsor_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_reports")),
        sa.UniqueConstraint("nonce", name=op.f("uq_outcome_reports_nonce")),
    )
    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.create_index("ix_outcome_reports_factory_period", ["factory_id", "period"], unique=False)
        batch_op.create_index("ix_outcome_reports_sponsor_period", ["sponsor_id", "period"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_organisation_id_organisations"), "organisations", ["organisation_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_organisation_id_organisations"), type_="foreignkey")
        batch_op.drop_column("organisation_id")

    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_reports_sponsor_period")
        batch_op.drop_index("ix_outcome_reports_factory_period")

    op.drop_table("outcome_reports")
    op.drop_table("milestones")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_project_id")

    op.drop_table("ledger")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index("ix_projects_sponsor_id")
        batch_op.drop_index("ix_projects_factory_id")

    op.drop_table("projects")
    op.drop_table("funding_rules")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_factory_id")

    op.drop_table("consents")
    op.drop_table("programs")
    op.drop_table("organisations")
