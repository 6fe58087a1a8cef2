"""Documents and NC programs: controlled documents per item, operation and machine, their revisions (file,
SHA-256, approval, effective date, the design an NC program was made from), the operators' confirmations at order
start, the machines' DNC targets and the programs sent; skills, the skills operations need and the operators'
certifications with their expiry.

Revision ID: 0020b
Revises: 0020
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shopfloor.store.schema import UTCDateTime

revision = "0020b"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("item", sa.String(64), nullable=True),
        sa.Column("operation_seq", sa.Integer(), nullable=True),
        sa.Column("machine", sa.String(64), nullable=True),
        sa.Column("design_ref", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("code", name=op.f("uq_documents_code")),
    )
    op.create_table(
        "document_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("effective_from", UTCDateTime(), nullable=True),
        sa.Column("design_revision", sa.String(64), nullable=True),
        sa.Column("cad_sha256", sa.String(64), nullable=True),
        sa.Column("program_name", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_revisions_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_revisions")),
        sa.UniqueConstraint("document_id", "revision", name=op.f("uq_document_revisions_document_id")),
    )
    op.create_table(
        "document_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("work_order", sa.String(64), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["document_revisions.id"],
            name=op.f("fk_document_confirmations_revision_id_document_revisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_confirmations")),
        sa.UniqueConstraint(
            "revision_id", "work_order", "operator", name=op.f("uq_document_confirmations_revision_id")
        ),
    )
    op.create_table(
        "dnc_targets",
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("machine", name=op.f("pk_dnc_targets")),
    )
    op.create_table(
        "nc_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("sent_by", sa.String(200), nullable=False),
        sa.Column("remote_name", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["document_revisions.id"], name=op.f("fk_nc_transfers_revision_id_document_revisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nc_transfers")),
    )
    op.create_table(
        "skills",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_skills")),
    )
    op.create_table(
        "operation_skills",
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["skill"], ["skills.code"], name=op.f("fk_operation_skills_skill_skills")),
        sa.PrimaryKeyConstraint("item", "seq", "skill", name=op.f("pk_operation_skills")),
    )
    op.create_table(
        "operator_skills",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("skill", sa.String(64), nullable=False),
        sa.Column("certified_at", UTCDateTime(), nullable=False),
        sa.Column("certified_by", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["skill"], ["skills.code"], name=op.f("fk_operator_skills_skill_skills")),
        sa.PrimaryKeyConstraint("username", "skill", name=op.f("pk_operator_skills")),
    )


def downgrade() -> None:
    op.drop_table("operator_skills")
    op.drop_table("operation_skills")
    op.drop_table("skills")
    op.drop_table("nc_transfers")
    op.drop_table("dnc_targets")
    op.drop_table("document_confirmations")
    op.drop_table("document_revisions")
    op.drop_table("documents")
