"""contributors.email: the address a contributor signs in with (unique, stored lower-case)

Revision ID: 0007_ingest
Revises: 0006_render
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_ingest"
down_revision = "0006_render"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column and a unique index: no table rebuild on SQLite, and existing
    # contributors get their address later (`newsroom contributor set-email`).
    op.add_column("contributors", sa.Column("email", sa.String(length=320), nullable=True))
    op.create_index("ix_contributors_email", "contributors", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_contributors_email", table_name="contributors")
    with op.batch_alter_table("contributors") as batch:
        batch.drop_column("email")
