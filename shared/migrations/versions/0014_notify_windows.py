"""notify: immediate windows, at most one newsletter per subscriber per window

Revision ID: 0014_notify_windows
Revises: 0013_bounces
Create Date: 2026-12-02 08:00:00

- `notify_windows`: one window per mail that opened it (an item sent at once, or a bundle),
  shared by its recipients; closed once, when its bundle is decided.
- `notify_window_members`: whose window it is; `notify_window_items`: what waits in it.
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0014_notify_windows"
down_revision = "0013_bounces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opened_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notify_windows_open", "notify_windows", ["closed_at", "closes_at"])
    op.create_table(
        "notify_window_members",
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["window_id"], ["notify_windows.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("window_id", "subscriber_id"),
    )
    op.create_index(
        "ix_notify_window_members_subscriber_id", "notify_window_members", ["subscriber_id"]
    )
    op.create_table(
        "notify_window_items",
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["window_id"], ["notify_windows.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("window_id", "item_id"),
    )
    op.create_index("ix_notify_window_items_item_id", "notify_window_items", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_notify_window_items_item_id", table_name="notify_window_items")
    op.drop_table("notify_window_items")
    op.drop_index("ix_notify_window_members_subscriber_id", table_name="notify_window_members")
    op.drop_table("notify_window_members")
    op.drop_index("ix_notify_windows_open", table_name="notify_windows")
    op.drop_table("notify_windows")
