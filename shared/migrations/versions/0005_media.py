"""media and media_files: uploaded images and documents, their bytes in the database

Revision ID: 0005_media
Revises: 0004_search
Create Date: 2026-11-27 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0005_media"
down_revision = "0004_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributors.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "media_files",
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("media_id", "variant"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Every stored file is already compressed (JPEG, AVIF, WebP, PNG, PDF, zip-based
        # Office files): EXTERNAL keeps the values out of line (TOAST) without trying pglz
        # on them again, which only costs CPU on every insert.
        op.execute("ALTER TABLE media_files ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("media_files")
    op.drop_table("media")
