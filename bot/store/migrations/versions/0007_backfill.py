"""Every upload's source (a platform's message and attachment), and channel backfills with the
row of each attachment they saw.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("uploads") as uploads:
        uploads.add_column(sa.Column("source", sa.String(64), nullable=True))
        uploads.create_index("ix_uploads_source", ["platform", "source"])
    op.create_table(
        "backfills",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("community", sa.String(64), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("active_channel", sa.String(96), nullable=True, unique=True),
        sa.Column("admin_id", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("after_id", sa.String(32), nullable=True),
        sa.Column("until_id", sa.String(32), nullable=False),
        sa.Column("cursor", sa.String(32), nullable=True),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("progress", sa.String(64), nullable=True),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "backfill_rows",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("backfill_id", BIG_ID, nullable=False, index=True),
        sa.Column("message_url", sa.Text, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attachment_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("original_url", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("viewer_url", sa.Text, nullable=True),
        sa.Column("file_url", sa.Text, nullable=True),
        sa.Column("thumbnail_url", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("backfill_rows")
    op.drop_table("backfills")
    with op.batch_alter_table("uploads") as uploads:
        uploads.drop_index("ix_uploads_source")
        uploads.drop_column("source")
