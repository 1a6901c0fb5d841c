"""render_months: visible items per month, kept by the renderer

Revision ID: 0002_render_months
Revises: 0001
Create Date: 2026-11-26 14:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_render_months"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month"),
    )
    # The counts of the site as it is; items scheduled for later are counted by their events.
    op.execute(
        "INSERT INTO render_months (month, count) SELECT month, count(*) FROM items"
        " WHERE status = 'published' AND published_at <= CURRENT_TIMESTAMP GROUP BY month"
    )


def downgrade() -> None:
    op.drop_table("render_months")
