"""notify: random link ids, the stalled sweep's count, digests by when items became visible

Revision ID: 0008_notify
Revises: 0007_ingest
Create Date: 2026-12-02 06:00:00

- `subscribers.link_id`: what mail links carry instead of the id and a hash of the address;
  every existing subscriber gets a random one (links already sent keep working: the token
  reader still accepts their old form until they expire).
- `deliveries.sweeps`: how often the stalled sweep sent a row again; it gives up after a few.
- `notify_digest_items`, `notify_digests`: each item that became visible and the one digest
  that carries it. Items the weekly digests already covered (by their week, as digests were
  chosen before) are filed under that week's digest; the rest wait for the next one.
"""

import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0008_notify"
down_revision = "0007_ingest"
branch_labels = None
depends_on = None


def _week_key(moment: datetime, zone: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"digest:{year}-W{week:02d}"


def _file_existing_items(connection) -> None:
    """Items of weeks a digest already went out for (or could have) are filed under that
    week's key; items of the current week, and of last week while its digest has not gone
    out yet, are left for the next digest."""
    from shared.config import get_settings

    zone = ZoneInfo(get_settings().timezone)
    now = datetime.now(UTC)
    local = now.astimezone(zone)
    this_monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    boundary = this_monday
    last_week = _week_key(this_monday - timedelta(days=7), zone)
    sent = connection.execute(
        sa.text("SELECT 1 FROM deliveries WHERE newsletter = :key LIMIT 1"), {"key": last_week}
    ).first()
    if sent is None:
        boundary = this_monday - timedelta(days=7)
    sqlite = connection.dialect.name == "sqlite"

    def stored(moment: datetime) -> datetime:
        # As shared.db.UTCDateTime stores it: SQLite keeps naive UTC.
        return moment.astimezone(UTC).replace(tzinfo=None) if sqlite else moment

    items_table = sa.table(
        "items",
        sa.column("id", sa.Uuid()),
        sa.column("published_at", sa.DateTime(timezone=True)),
        sa.column("status", sa.String()),
    )
    items = connection.execute(
        sa.select(items_table.c.id, items_table.c.published_at).where(
            items_table.c.status == "published", items_table.c.published_at <= stored(now)
        )
    ).all()
    table = sa.table(
        "notify_digest_items",
        sa.column("item_id", sa.Uuid()),
        sa.column("visible_at", sa.DateTime(timezone=True)),
        sa.column("digest", sa.String()),
    )
    rows = []
    for item_id, published_at in items:
        if published_at.tzinfo is None:  # SQLite keeps naive UTC
            published_at = published_at.replace(tzinfo=UTC)
        digest = None if published_at >= boundary else _week_key(published_at, zone)
        rows.append({"item_id": item_id, "visible_at": stored(published_at), "digest": digest})
    if rows:
        op.bulk_insert(table, rows)
    keys = sorted({row["digest"] for row in rows if row["digest"]})
    if keys:
        op.bulk_insert(
            sa.table(
                "notify_digests",
                sa.column("key", sa.String()),
                sa.column("created_at", sa.DateTime(timezone=True)),
            ),
            [{"key": key, "created_at": stored(now)} for key in keys],
        )


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("link_id", sa.String(length=32), nullable=True))
    ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM subscribers"))]
    for subscriber_id in ids:
        connection.execute(
            sa.text("UPDATE subscribers SET link_id = :link WHERE id = :id"),
            {"link": secrets.token_urlsafe(16), "id": subscriber_id},
        )
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("link_id", existing_type=sa.String(length=32), nullable=False)
        batch.create_unique_constraint("uq_subscribers_link_id", ["link_id"])

    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("sweeps", sa.Integer(), nullable=False, server_default="0"))

    op.create_table(
        "notify_digests",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "notify_digest_items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        "ix_notify_digest_items_digest", "notify_digest_items", ["digest"], unique=False
    )
    _file_existing_items(connection)


def downgrade() -> None:
    op.drop_index("ix_notify_digest_items_digest", table_name="notify_digest_items")
    op.drop_table("notify_digest_items")
    op.drop_table("notify_digests")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("sweeps")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_constraint("uq_subscribers_link_id", type_="unique")
        batch.drop_column("link_id")
