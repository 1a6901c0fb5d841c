"""render_backlog: events whose pages could not all be written, until a render succeeds

Revision ID: 0006_render
Revises: 0005_media
Create Date: 2026-12-02 05:00:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0006_render"
down_revision = "0005_media"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_backlog",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("failed_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("render_backlog")
