"""render_work: item events received by render and not yet rendered, taken in batches;
indexes in render's date order (published_at, id), the tags' with item_id

Revision ID: 0012_render_work
Revises: 0011_render_tags
Create Date: 2026-12-02 08:00:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0012_render_work"
down_revision = "0011_render_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_work",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("due_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_render_work_stage_id", "render_work", ["stage", "id"])
    with op.batch_alter_table("items") as batch_op:
        batch_op.create_index("ix_items_published_at_id", ["published_at", "id"])
    with op.batch_alter_table("item_tags") as batch_op:
        batch_op.create_index(
            "ix_item_tags_kind_slug_published_item", ["kind", "slug", "published_at", "item_id"]
        )
        batch_op.drop_index("ix_item_tags_kind_slug_published")


def downgrade() -> None:
    with op.batch_alter_table("item_tags") as batch_op:
        batch_op.create_index("ix_item_tags_kind_slug_published", ["kind", "slug", "published_at"])
        batch_op.drop_index("ix_item_tags_kind_slug_published_item")
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_index("ix_items_published_at_id")
    op.drop_index("ix_render_work_stage_id", table_name="render_work")
    op.drop_table("render_work")
