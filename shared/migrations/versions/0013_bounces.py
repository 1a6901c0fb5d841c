"""Bounces and complaints: the decisions per delivery, the webhook's seen signatures, and
subscribers suppressed before the `suppressed` status existed

Revision ID: 0013_bounces
Revises: 0012_render_work
Create Date: 2026-12-02 08:00:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0013_bounces"
down_revision = "0012_render_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bounces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.String(length=16), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_id"),
    )
    op.create_index("ix_bounces_subscriber_id", "bounces", ["subscriber_id"])
    op.create_table(
        "webhook_receipts",
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("received_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index("ix_webhook_receipts_received_at", "webhook_receipts", ["received_at"])
    # Addresses refused for good before: suppressed now, by the status the policy uses.
    op.execute(
        "UPDATE subscribers SET status = 'suppressed'"
        " WHERE suppressed_at IS NOT NULL AND status = 'confirmed'"
    )


def downgrade() -> None:
    op.execute("UPDATE subscribers SET status = 'confirmed' WHERE status = 'suppressed'")
    op.drop_table("webhook_receipts")
    op.drop_table("bounces")
