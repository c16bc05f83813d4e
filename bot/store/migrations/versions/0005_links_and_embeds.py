"""What embed codes and inline results need: the direct link, title, thumbnail and type of
each upload, and each user's answer format.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as uploads:
        uploads.add_column(sa.Column("url", sa.Text, nullable=True))
        uploads.add_column(sa.Column("title", sa.String(100), nullable=True))
        uploads.add_column(sa.Column("thumb_url", sa.Text, nullable=True))
        uploads.add_column(sa.Column("media_type", sa.String(16), nullable=True))
    with op.batch_alter_table("preferences") as preferences:
        preferences.add_column(sa.Column("embed_form", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("preferences") as preferences:
        preferences.drop_column("embed_form")
    with op.batch_alter_table("uploads") as uploads:
        uploads.drop_column("media_type")
        uploads.drop_column("thumb_url")
        uploads.drop_column("title")
        uploads.drop_column("url")
