"""render_tags: visible items per region and topic and the newest, kept by the renderer

Revision ID: 0011_render_tags
Revises: 0010_people
Create Date: 2026-12-02 08:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_render_tags"
down_revision = "0010_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "render_tags",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("newest_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "slug"),
    )
    # The tags of the site as it is; items scheduled for later are counted by their events.
    op.execute(
        "INSERT INTO render_tags (kind, slug, count, newest_id)"
        " SELECT t.kind, t.slug, count(*),"
        " (SELECT n.item_id FROM item_tags n JOIN items m ON m.id = n.item_id"
        "  WHERE n.kind = t.kind AND n.slug = t.slug"
        "  AND m.status = 'published' AND m.published_at <= CURRENT_TIMESTAMP"
        "  ORDER BY n.published_at DESC, n.item_id DESC LIMIT 1)"
        " FROM item_tags t JOIN items i ON i.id = t.item_id"
        " WHERE i.status = 'published' AND i.published_at <= CURRENT_TIMESTAMP"
        " GROUP BY t.kind, t.slug"
    )


def downgrade() -> None:
    op.drop_table("render_tags")
