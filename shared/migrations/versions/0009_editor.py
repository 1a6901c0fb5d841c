"""Redaktionen: item revisions and reviews, sign-ins and sessions, review and mail choices

Revision ID: 0009_editor
Revises: 0008_notify
Create Date: 2026-11-27 09:30:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0009_editor"
down_revision = "0008_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contributors") as batch_op:
        batch_op.add_column(
            sa.Column("review_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("items") as batch_op:
        batch_op.add_column(
            sa.Column("notify", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        "item_revisions",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("published_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("author_email", sa.String(length=320), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("image", sa.JSON(), nullable=True),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributors.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "version"),
    )
    op.create_table(
        "item_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["contributors.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by"], ["contributors.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_item_reviews_item_id", "item_reviews", ["item_id"])
    op.create_index("ix_item_reviews_open", "item_reviews", ["decided_at", "requested_at"])
    op.create_table(
        "editor_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_hash", sa.String(length=64), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("attempt_hash"),
        sa.UniqueConstraint("link_hash"),
    )
    op.create_index("ix_editor_sign_ins_email", "editor_sign_ins", ["email_hash", "created_at"])
    op.create_index("ix_editor_sign_ins_ip", "editor_sign_ins", ["ip_hash", "created_at"])
    op.create_table(
        "editor_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_editor_sessions_contributor_id", "editor_sessions", ["contributor_id"])


def downgrade() -> None:
    op.drop_table("editor_sessions")
    op.drop_table("editor_sign_ins")
    op.drop_table("item_reviews")
    op.drop_table("item_revisions")
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_column("notify")
    with op.batch_alter_table("contributors") as batch_op:
        batch_op.drop_column("review_required")
