"""contributors.email: the address a contributor signs in to Redaktionen with

Revision ID: 0004_editor_email
Revises: 0003_deliveries_subscriber
Create Date: 2026-11-27 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_editor_email"
down_revision = "0003_deliveries_subscriber"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contributors") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.create_unique_constraint("uq_contributors_email", ["email"])


def downgrade() -> None:
    with op.batch_alter_table("contributors") as batch_op:
        batch_op.drop_constraint("uq_contributors_email", type_="unique")
        batch_op.drop_column("email")
