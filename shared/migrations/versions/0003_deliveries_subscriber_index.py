"""deliveries.subscriber_id indexed: forgetting a subscriber cascades without a full scan

Revision ID: 0003_deliveries_subscriber
Revises: 0002_render_months
Create Date: 2026-11-26 15:00:00
"""

from alembic import op

revision = "0003_deliveries_subscriber"
down_revision = "0002_render_months"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscriber_id", table_name="deliveries")
