"""Writing items: create, replace and withdraw them with their tags and events; never commit.

A new item is inserted one way (`_insert`: its row, its tags and its event in one statement
on PostgreSQL); an existing one is changed through its loaded ORM object; every event goes
through `shared.outbox.record`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ingest import idempotency, media_refs, reviews, revisions
from services.ingest.permissions import check_owner, check_regions
from services.ingest.reading import item_json
from services.ingest.schemas import ItemIn
from services.ingest.slugs import SlugChoice, make_slug, month_of, unique_slug
from shared import outbox
from shared.db import is_postgres, utcnow
from shared.events import ItemPlace, ItemPublished, ItemUpdated, ItemWithdrawn
from shared.inserts import insert_rows, rows_of
from shared.markup import render_markdown
from shared.models import Contributor, Item, ItemTag, OutboxEvent, Page
from shared.problems import Problem
from shared.visibility import is_visible

# A request first takes its title's slug unchecked; when that is taken it looks for a free
# one, and a request that lost the race for its slug or idempotency key twice more takes a
# random slug suffix, so a few attempts always suffice.
SLUG_CHOICES: tuple[SlugChoice, ...] = ("unchecked", "free", "free", "random", "random", "random")


class Submitted(NamedTuple):
    """The answer to a POST: the item's JSON, its status code, and whether it is a replay."""

    body: dict[str, Any]
    status_code: int
    replayed: bool


# --- new items ---------------------------------------------------------------------------


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
    # Plain-text fields lose surrounding blanks (of any script); the schema only promises
    # something visible.
    item.title = data.title.strip()
    item.summary = data.summary.strip()
    item.body_md = data.body
    item.body_html = render_markdown(data.body)
    item.published_at = published_at
    item.month = month_of(published_at)
    item.regions = list(data.regions)
    item.topics = list(data.topics)
    item.author_name = data.author.name.strip() if data.author else None
    item.author_email = str(data.author.email) if data.author and data.author.email else None
    item.attachments = [media_refs.attachment_json(attachment) for attachment in data.attachments]
    item.image = media_refs.image_json(data.image) if data.image else None
    item.status = data.status
    item.notify = data.notify


def _deliver_after(published_at: datetime) -> datetime | None:
    # A scheduled item's event waits in the outbox until its time: nothing shows it earlier.
    return published_at if published_at > utcnow() else None


def _new_item(data: ItemIn, *, contributor: Contributor | None, slug: str | None = None) -> Item:
    now = utcnow()
    item = Item(id=uuid.uuid4(), version=1, created_at=now, updated_at=now, slug=slug)
    item.contributor_id = contributor.id if contributor is not None else None
    _apply(item, data, published_at=data.published_at or now)
    return item


def unsaved_item(*, data: ItemIn, contributor: Contributor, item: Item | None) -> Item:
    """What saving `data` would make of `item` (None: a new item), held by no session: the
    item Redaktionen's preview and test mail show."""
    slug = item.slug if item is not None else make_slug(data.title)
    copy = _new_item(data, contributor=contributor, slug=slug)
    if item is not None:
        copy.id, copy.version = item.id, item.version + 1
    return copy


def _insert(
    session: Session, item: Item, *, event: bool, contributor: Contributor | None = None
) -> None:
    """Write a new item, its tags and its first revision, and its `item.published` event when
    `event`."""
    _sync_tags(item)
    for tag in item.tags:
        tag.item_id = item.id
    rows = [rows_of([item]), rows_of(item.tags), revisions.writes(item, contributor=contributor)]
    if event and item.status == "published":
        outbox.record(
            session,
            ItemPublished(item_id=item.id, item_version=item.version),
            deliver_after=_deliver_after(item.published_at),
            with_rows=rows,
        )
    else:
        insert_rows(session, rows)


def create_item(
    *,
    session: Session,
    contributor: Contributor | None,
    data: ItemIn | dict,
    slug_choice: SlugChoice = "free",
) -> Item:
    """Write a new item, its tags and (unless a draft) its `item.published` event."""
    if not isinstance(data, ItemIn):
        data = ItemIn.model_validate(data)
    if contributor is not None:
        check_regions(contributor=contributor, regions=data.regions)
    reviews.check_may_publish(contributor=contributor, status=data.status)
    media_refs.check(session=session, data=data)
    item = _new_item(data, contributor=contributor)
    item.slug = unique_slug(
        session=session,
        base=data.slug or make_slug(data.title),
        month=item.month,
        choice=slug_choice,
    )
    _insert(session, item, event=True, contributor=contributor)
    return item


def submit_item(
    *,
    session: Session,
    contributor: Contributor,
    data: ItemIn,
    idempotency_key: str | None = None,
) -> Submitted:
    """A POSTed item: created (retried when a concurrent writer took its slug or key) or, for
    a repeated Idempotency-Key, the first answer again. Every write is flushed; the caller
    commits."""
    fingerprint = idempotency.request_hash(data) if idempotency_key else ""
    for attempt, slug_choice in enumerate(SLUG_CHOICES):
        try:
            if idempotency_key:
                stored = idempotency.find_idempotent(
                    session=session,
                    contributor=contributor,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                )
                if stored is not None:
                    return Submitted(stored.response, stored.status_code, replayed=True)
            elif attempt == 0:
                _autocommit(session)
            item = create_item(
                session=session, contributor=contributor, data=data, slug_choice=slug_choice
            )
            body = item_json(item, contributor_name=contributor.name)
            if idempotency_key:
                idempotency.remember_idempotent(
                    session=session,
                    contributor=contributor,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                    status_code=201,
                    response=body,
                )
            session.flush()  # a lost race shows here, where it can be retried
            return Submitted(body, 201, replayed=False)
        except IntegrityError:
            # A concurrent request took the slug or the idempotency key first: look again.
            session.rollback()
    raise Problem(409, "Nyheten kunde inte sparas på grund av samtidiga ändringar; försök igen.")


def _autocommit(session: Session) -> None:
    # The first attempt without Idempotency-Key is one statement (item, tags and event; see
    # shared.inserts), atomic by itself: on PostgreSQL it runs autocommitted, with no BEGIN
    # and COMMIT round trips (one round trip instead of five). The caller's commit then has
    # nothing left to do; the connection is reset when the session hands it back.
    if is_postgres(session) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


# --- changing items ----------------------------------------------------------------------


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
    media_refs.check(session=session, data=data)
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

    published = ItemPublished(item_id=item.id, item_version=item.version)
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
            outbox.record(session, published, deliver_after=when)
    elif item.status == "published":
        # A draft goes out for the first time.
        outbox.record(session, published, deliver_after=_deliver_after(published_at))
    revisions.record(session, item, contributor=contributor)
    session.flush()
    return item


def withdraw_item(*, session: Session, contributor: Contributor, item: Item) -> Item:
    """Take an item off the site and out of the feeds; the record stays for the audit trail."""
    check_owner(contributor=contributor, item=item, action="återkalla")
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


# --- seeding -----------------------------------------------------------------------------


def seed(*, session: Session, items: list[dict], pages: list[dict]) -> int:
    """Load sample items (as published) and pages without events; return how many rows it added.

    A data load, not news: no mails go out and the caller rebuilds the site. Running it again
    adds nothing, since an item is known by its month and slug and a page by its slug.
    """
    added = 0
    for raw in items:
        data = ItemIn.model_validate({**raw, "status": "published"})
        item = _new_item(data, contributor=None, slug=data.slug or make_slug(data.title))
        exists = session.scalar(
            select(Item.id).where(Item.month == item.month, Item.slug == item.slug)
        )
        if exists is None:
            _insert(session, item, event=False)
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
