"""Ingest logic as plain functions: write items, their tags and their events; never commit."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slugify import slugify
from sqlalchemy import and_, bindparam, delete, func, insert, inspect, or_, select
from sqlalchemy.orm import Session

from services.ingest import reviews, revisions
from services.ingest.schemas import ASCII_BLANKS, ItemIn, ItemOut
from shared import outbox, taxonomy
from shared.config import get_settings
from shared.db import Base, is_postgres, utcnow
from shared.events import ItemPlace, ItemPublished, ItemUpdated, ItemWithdrawn
from shared.markup import render_markdown
from shared.models import Contributor, IdempotencyKey, Item, ItemTag, OutboxEvent, Page
from shared.problems import Problem
from shared.visibility import is_visible

FALLBACK_SLUG = "nyhet"
# How long a retry with the same Idempotency-Key gets the first answer (as Stripe: a day).
IDEMPOTENCY_TTL = timedelta(hours=24)
EDITOR_ROLES = ("editor", "admin")


# --- slugs and months --------------------------------------------------------------------


def make_slug(title: str) -> str:
    """The URL slug of a title: lower-case ASCII words joined by hyphens."""
    # An explicit backend: "auto" tries to import Unidecode on every call before falling back
    # to text-unidecode, and would change the slugs if Unidecode were ever installed.
    return (
        slugify(title, max_length=80, word_boundary=True, backend="text-unidecode") or FALLBACK_SLUG
    )


def month_of(published_at: datetime) -> str:
    """ "YYYY-MM" of a time in the site's time zone, the month that holds the item's URL."""
    return published_at.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m")


def unique_slug(
    *,
    session: Session,
    base: str,
    month: str,
    item_id: uuid.UUID | None = None,
    contended: bool = False,
    optimistic: bool = False,
) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is still free in `month`.

    `optimistic` takes `base` without looking: most titles are new, and a taken slug fails on
    the unique constraint, after which the caller tries again without it (two queries saved
    in the common case). `contended` (a retry after losing a race for the slug) adds a random
    suffix instead, which no concurrent writer can take too.
    """
    if optimistic:
        return base
    if contended:
        return f"{base}-{secrets.token_hex(3)}"
    if is_postgres(session):
        # Writers of the same slug in the same month queue here until the first commits, so
        # the next one sees its slug taken instead of failing on the unique constraint.
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{month}/{base}"))))
    query = select(Item.slug).where(
        Item.month == month, or_(Item.slug == base, Item.slug.startswith(base + "-"))
    )
    if item_id is not None:
        query = query.where(Item.id != item_id)
    taken = set(session.scalars(query))
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


# --- permissions -------------------------------------------------------------------------


def is_editor(contributor: Contributor) -> bool:
    return contributor.role in EDITOR_ROLES


def check_regions(*, contributor: Contributor, regions: list[str]) -> None:
    """A contributor writes for its own region only; editors and admins for every region."""
    if is_editor(contributor):
        return
    foreign = [region for region in regions if region != contributor.region]
    if foreign:
        raise Problem(
            403,
            f"Du får bara publicera för {contributor.region}.",
            errors=[{"field": "regions", "message": f"inte din region: {', '.join(foreign)}"}],
        )


def check_owner(*, contributor: Contributor, item: Item) -> None:
    """A contributor changes its own items only."""
    if not is_editor(contributor) and item.contributor_id != contributor.id:
        raise Problem(403, "Du får bara ändra dina egna nyheter.")


# --- writing items -----------------------------------------------------------------------


def _sync_tags(item: Item) -> None:
    # Update rows in place rather than replace them: the (item, kind, slug) key stays put.
    wanted = {("region", slug) for slug in item.regions} | {("topic", slug) for slug in item.topics}
    visible = item.status == "published"
    for tag in list(item.tags):
        if (tag.kind, tag.slug) not in wanted:
            item.tags.remove(tag)
    present = {(tag.kind, tag.slug) for tag in item.tags}
    for kind, slug in sorted(wanted - present):
        item.tags.append(ItemTag(kind=kind, slug=slug, published_at=item.published_at))
    for tag in item.tags:
        tag.published_at = item.published_at
        tag.visible = visible


def _apply(item: Item, data: ItemIn, *, published_at: datetime) -> None:
    # Plain-text fields lose surrounding blanks; the schema only promises something visible.
    item.title = data.title.strip(ASCII_BLANKS)
    item.summary = data.summary.strip(ASCII_BLANKS)
    item.body_md = data.body
    item.body_html = render_markdown(data.body)
    item.published_at = published_at
    item.month = month_of(published_at)
    item.regions = list(data.regions)
    item.topics = list(data.topics)
    item.author_name = data.author.name.strip(ASCII_BLANKS) if data.author else None
    item.author_email = str(data.author.email) if data.author and data.author.email else None
    item.attachments = [
        {"title": attachment.title.strip(ASCII_BLANKS), "url": attachment.url}
        for attachment in data.attachments
    ]
    item.image = None
    if data.image:
        item.image = {"url": data.image.url, "alt": data.image.alt.strip(ASCII_BLANKS)}
    item.status = data.status
    item.notify = data.notify


def _record_published(session: Session, item: Item, *, deliver_after: datetime | None) -> None:
    outbox.record(
        session,
        ItemPublished(item_id=item.id, item_version=item.version),
        deliver_after=deliver_after,
    )


def _deliver_after(published_at: datetime) -> datetime | None:
    # A scheduled item's event waits in the outbox until its time: nothing shows it earlier.
    return published_at if published_at > utcnow() else None


def create_item(
    *,
    session: Session,
    contributor: Contributor | None,
    data: ItemIn | dict,
    contended: bool = False,
    optimistic: bool = False,
) -> Item:
    """Write a new item, its tags and (unless a draft) its `item.published` event.

    `optimistic`: take the title's slug unchecked, for a caller that retries on IntegrityError;
    `contended`: a retry after a concurrent writer took the slug (see `unique_slug`).
    """
    if not isinstance(data, ItemIn):
        data = ItemIn.model_validate(data)
    if contributor is not None:
        check_regions(contributor=contributor, regions=data.regions)
    reviews.check_may_publish(contributor=contributor, status=data.status)
    now = utcnow()
    published_at = data.published_at or now
    item = Item(id=uuid.uuid4(), version=1, created_at=now, updated_at=now)
    item.contributor_id = contributor.id if contributor is not None else None
    _apply(item, data, published_at=published_at)
    item.slug = unique_slug(
        session=session,
        base=data.slug or make_slug(data.title),
        month=item.month,
        contended=contended,
        optimistic=optimistic,
    )
    _sync_tags(item)
    for tag in item.tags:
        tag.item_id = item.id
    writes = [_rows([item]), _rows(item.tags), revisions.writes(item, contributor=contributor)]
    event = None
    if item.status == "published":
        event = ItemPublished(item_id=item.id, item_version=item.version)
        row = outbox.event_row(event, deliver_after=_deliver_after(published_at))
        writes.append((OutboxEvent.__table__, [row]))
    insert_rows(session, writes)
    if event is not None:
        outbox.logged(event)
    return item


def autocommit(session: Session) -> None:
    """On PostgreSQL, let `session`'s next statement commit by itself (no BEGIN, no COMMIT
    round trip), for a caller whose writes are that one statement: an optimistic
    `create_item`. Only a session that holds no transaction yet; the connection is reset
    when the session hands it back."""
    if is_postgres(session) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _rows(objects: list[Any]) -> tuple[Any, list[dict[str, Any]]]:
    """The table and column values of new ORM objects of one class, for `insert_rows`.

    For rows written once and never changed again in the session (a new item and its tags),
    a Core INSERT costs a fraction of `session.add` + flush; the objects stay transient.
    """
    if not objects:
        return None, []
    mapper = inspect(type(objects[0]))
    return mapper.local_table, [
        {
            prop.columns[0].key: state.dict[prop.key]
            for prop in mapper.column_attrs
            if prop.key in state.dict
        }
        for state in map(inspect, objects)
    ]


def insert_rows(session: Session, writes: list[tuple[Any, list[dict[str, Any]]]]) -> None:
    """INSERT rows into several tables, in order, bypassing the unit of work.

    On PostgreSQL in one statement and one round trip: all but the last table's rows as
    data-modifying CTEs (foreign keys are checked at the end of the statement), each table's
    rows as one multi-row VALUES. Elsewhere one statement per table.
    """
    writes = [(table, rows) for table, rows in writes if rows]
    shape = tuple((table.name, tuple(rows[0]), len(rows)) for table, rows in writes)
    same_keys = all(
        tuple(row) == keys
        for (_, keys, _), (_, rows) in zip(shape, writes, strict=False)
        for row in rows
    )
    if not is_postgres(session) or not same_keys:
        for table, rows in writes:
            session.execute(insert(table), rows[0] if len(rows) == 1 else rows)
        return
    sql, processors = _combined_insert(session.get_bind().dialect, shape)
    params = {}
    for number, (_, rows) in enumerate(writes):
        for row_number, row in enumerate(rows):
            for key, value in row.items():
                name = f"p{number}_{row_number}_{key}"
                process = processors.get(name)
                params[name] = process(value) if process else value
    session.connection().exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=64)
def _combined_insert(dialect: Any, shape: tuple) -> tuple[str, dict[str, Any]]:
    # Compiled once per shape (tables, columns, row counts) and dialect: SQLAlchemy's own
    # statement cache does not take data-modifying CTEs.
    parts = [
        insert(Base.metadata.tables[name]).values(
            [
                {
                    key: bindparam(
                        f"p{number}_{row}_{key}", type_=Base.metadata.tables[name].c[key].type
                    )
                    for key in keys
                }
                for row in range(count)
            ]
        )
        for number, (name, keys, count) in enumerate(shape)
    ]
    statement = parts[-1]
    for number, part in enumerate(parts[:-1]):
        statement = statement.add_cte(part.cte(f"write_{number}"))
    compiled = statement.compile(dialect=dialect)
    processors = {
        name: process
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    return str(compiled), processors


def _reschedule_pending(*, session: Session, item_id: uuid.UUID, when: datetime | None) -> int:
    # A scheduled item's `item.published` still waits in the outbox; it must fire at the new
    # time. Waiting events are few (scheduled items only), so filtering them here is cheap.
    pending = session.scalars(
        select(OutboxEvent).where(
            OutboxEvent.relayed_at.is_(None), OutboxEvent.deliver_after.is_not(None)
        )
    )
    moved = 0
    for event in pending:
        if event.payload.get("item_id") == str(item_id):
            event.deliver_after = when
            moved += 1
    return moved


def update_item(*, session: Session, contributor: Contributor, item: Item, data: ItemIn) -> Item:
    """Replace an item's content; record what consumers need to rewrite the pages it left."""
    check_owner(contributor=contributor, item=item)
    check_regions(contributor=contributor, regions=data.regions)
    reviews.check_may_publish(contributor=contributor, status=data.status)
    if item.status == "withdrawn":
        raise Problem(409, "Nyheten är återkallad och kan inte ändras.")
    now = utcnow()
    before = ItemPlace.of(item)
    was_visible = is_visible(item, now=now)
    published_at = data.published_at or item.published_at
    _apply(item, data, published_at=published_at)
    base = data.slug or before.slug
    if data.slug or item.month != before.month:
        # No autoflush: the new month with the old slug may collide with another item there
        # (a unique violation, so a 409 on every retry) before the free slug is chosen.
        with session.no_autoflush:
            item.slug = unique_slug(session=session, base=base, month=item.month, item_id=item.id)
    item.version += 1
    item.updated_at = now
    _sync_tags(item)

    if was_visible:
        # Whatever changed (even into a draft), pages showing the old place are rewritten now.
        # `notify`: the author asked to mail this change to the subscribers again.
        again = True if data.notify_again else None
        outbox.record(
            session,
            ItemUpdated(item_id=item.id, item_version=item.version, previous=before, notify=again),
        )
        if item.status == "published" and published_at > now:
            # Moved into the future: it leaves the site now and comes back at its new time.
            outbox.record(
                session,
                ItemUpdated(
                    item_id=item.id, item_version=item.version, previous=ItemPlace.of(item)
                ),
                deliver_after=published_at,
            )
    elif before.status == "published":
        # Still scheduled: its pending `item.published` moves with the new time (consumers
        # read the item itself, so a draft by then is simply not shown).
        when = _deliver_after(published_at)
        moved = _reschedule_pending(session=session, item_id=item.id, when=when)
        if not moved and item.status == "published":
            _record_published(session, item, deliver_after=when)
    elif item.status == "published":
        # A draft goes out for the first time.
        _record_published(session, item, deliver_after=_deliver_after(published_at))
    revisions.record(session, item, contributor=contributor)
    session.flush()
    return item


def withdraw_item(*, session: Session, contributor: Contributor, item: Item) -> Item:
    """Take an item off the site and out of the feeds; the record stays for the audit trail."""
    if not is_editor(contributor):
        raise Problem(403, "Endast redaktörer får återkalla nyheter.")
    if item.status == "withdrawn":
        return item
    before = ItemPlace.of(item)
    now = utcnow()
    item.status = "withdrawn"
    item.withdrawn_at = now
    item.updated_at = now
    item.version += 1
    _sync_tags(item)
    if before.status == "published":
        outbox.record(
            session, ItemWithdrawn(item_id=item.id, item_version=item.version, previous=before)
        )
    revisions.record(session, item, contributor=contributor)
    session.flush()
    return item


# --- reading items -----------------------------------------------------------------------


def item_json(item: Item, *, contributor_name: str | None = None) -> dict[str, Any]:
    """The API representation of an item, as JSON-ready data."""
    author = None
    if item.author_name:
        author = {"name": item.author_name, "email": item.author_email}
    return ItemOut(
        id=item.id,
        slug=item.slug,
        month=item.month,
        path=item.path,
        url=get_settings().public_url + item.path,
        status=item.status,
        version=item.version,
        title=item.title,
        summary=item.summary,
        body=item.body_md,
        body_html=item.body_html,
        published_at=item.published_at,
        regions=list(item.regions),
        topics=list(item.topics),
        author=author,
        attachments=list(item.attachments or []),
        image=item.image,
        notify=item.notify,
        contributor=contributor_name,
        created_at=item.created_at,
        updated_at=item.updated_at,
        withdrawn_at=item.withdrawn_at,
    ).model_dump(mode="json")


def etag_of(item: Item) -> str:
    """A strong ETag that changes with every write of the item."""
    return f'"{item.id}-v{item.version}"'


def get_item(
    *, session: Session, contributor: Contributor, item_id: uuid.UUID, for_update: bool = False
) -> Item:
    """The item, or 404 (also for another contributor's draft, which is nobody else's business)."""
    # FOR UPDATE on PostgreSQL makes concurrent writers of one item queue instead of racing.
    item = session.get(Item, item_id, with_for_update=for_update)
    if item is None or not _may_see(contributor, item):
        raise Problem(404, "Nyheten finns inte.")
    return item


def _may_see(contributor: Contributor, item: Item) -> bool:
    return item.status != "draft" or is_editor(contributor) or item.contributor_id == contributor.id


def encode_cursor(item: Item) -> str:
    raw = json.dumps([item.published_at.isoformat(), str(item.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (published_at, id) after which the next page starts; 400 when it was tampered with."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        published, item_id = json.loads(raw)
        when = datetime.fromisoformat(published)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(item_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise Problem(
            400,
            "Ogiltig cursor.",
            errors=[{"field": "cursor", "message": "använd next_cursor från förra svaret"}],
        ) from None


def list_items(
    *,
    session: Session,
    contributor: Contributor,
    region: str | None = None,
    topic: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Item], str | None]:
    """Items newest first, filtered, one keyset page at a time (stable under new posts)."""
    query = select(Item)
    if not is_editor(contributor):
        query = query.where(or_(Item.status != "draft", Item.contributor_id == contributor.id))
    for kind, slug in (("region", region), ("topic", topic)):
        if slug:
            tagged = select(ItemTag.item_id).where(ItemTag.kind == kind, ItemTag.slug == slug)
            query = query.where(Item.id.in_(tagged))
    if status:
        query = query.where(Item.status == status)
    if since:
        query = query.where(Item.published_at >= since)
    if cursor:
        after_time, after_id = decode_cursor(cursor)
        query = query.where(
            or_(
                Item.published_at < after_time,
                and_(Item.published_at == after_time, Item.id < after_id),
            )
        )
    query = query.order_by(Item.published_at.desc(), Item.id.desc()).limit(limit + 1)
    items = list(session.scalars(query))
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return items[:limit], next_cursor


def contributor_names(*, session: Session, items: list[Item]) -> dict[int, str]:
    """Names of the contributors of `items`, one query for a whole page."""
    ids = {item.contributor_id for item in items if item.contributor_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Contributor.id, Contributor.name).where(Contributor.id.in_(ids)))
    return {row.id: row.name for row in rows}


# --- idempotency -------------------------------------------------------------------------


def request_hash(data: ItemIn) -> str:
    """A fingerprint of what was asked, the same for the same fields in any order."""
    canonical = json.dumps(
        data.model_dump(mode="json", exclude_unset=True), sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def find_idempotent(
    *, session: Session, contributor: Contributor, key: str, fingerprint: str
) -> IdempotencyKey | None:
    """The stored first answer for this key, or None; 422 when the key came with another body."""
    stored = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.contributor_id == contributor.id, IdempotencyKey.key == key
        )
    )
    if stored is not None and stored.created_at < utcnow() - IDEMPOTENCY_TTL:
        # Expired: the key is free again (its row goes, so the new answer can take its place).
        session.delete(stored)
        session.flush()
        return None
    if stored is not None and not hmac.compare_digest(stored.request_hash, fingerprint):
        raise Problem(
            422,
            "Idempotency-Key har redan använts för en annan begäran.",
            errors=[{"field": "Idempotency-Key", "message": "används redan med annat innehåll"}],
        )
    return stored


def remember_idempotent(
    *,
    session: Session,
    contributor: Contributor,
    key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    """Keep the answer so that a retry with the same key gets it instead of a second item."""
    # The contributor's expired keys go as it makes new ones, so the table stays small.
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.contributor_id == contributor.id,
            IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_TTL,
        )
    )
    session.add(
        IdempotencyKey(
            contributor_id=contributor.id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response=response,
        )
    )


# --- seeding -----------------------------------------------------------------------------


def seed(*, session: Session, items: list[dict], pages: list[dict]) -> int:
    """Load sample items (as published) and pages without events; return how many rows it added.

    A data load, not news: no mails go out and the caller rebuilds the site. Running it again
    adds nothing, since an item is known by its month and slug and a page by its slug.
    """
    added = 0
    for raw in items:
        data = ItemIn.model_validate({**raw, "status": "published"})
        published_at = data.published_at or utcnow()
        slug = data.slug or make_slug(data.title)
        month = month_of(published_at)
        exists = session.scalar(select(Item.id).where(Item.month == month, Item.slug == slug))
        if exists is not None:
            continue
        now = utcnow()
        item = Item(id=uuid.uuid4(), version=1, created_at=now, updated_at=now, slug=slug)
        _apply(item, data, published_at=published_at)
        _sync_tags(item)
        session.add(item)
        session.flush()
        added += 1
    for raw in pages:
        if session.get(Page, raw["slug"]) is not None:
            continue
        session.add(
            Page(
                slug=raw["slug"],
                title=raw["title"],
                body_md=raw["body"],
                body_html=render_markdown(raw["body"]),
            )
        )
        added += 1
    session.flush()
    return added


def taxonomy_entries(kind: str) -> list[dict[str, str]]:
    """Regions or topics as `[{slug, name}]`, in the taxonomy's order."""
    names = taxonomy.regions() if kind == "region" else taxonomy.topics()
    return [{"slug": slug, "name": name} for slug, name in names.items()]
