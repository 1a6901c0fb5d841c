"""Event contracts: past-tense, frozen, versioned records, defined once for every service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.db import utcnow


class ItemPlace(BaseModel):
    """Where an item was shown: what `item.updated` and `item.withdrawn` carry of the past."""

    model_config = ConfigDict(frozen=True)

    slug: str
    month: str
    published_at: datetime
    regions: tuple[str, ...]
    topics: tuple[str, ...]
    status: str

    @classmethod
    def of(cls, item) -> ItemPlace:
        """Where an item (a `shared.models.Item`) is shown now."""
        return cls(
            slug=item.slug,
            month=item.month,
            published_at=item.published_at,
            regions=tuple(item.regions),
            topics=tuple(item.topics),
            status=item.status,
        )


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)


class _ItemEvent(_Event):
    item_id: uuid.UUID
    item_version: int


class ItemPublished(_ItemEvent):
    type: Literal["item.published"] = "item.published"


class ItemUpdated(_ItemEvent):
    type: Literal["item.updated"] = "item.updated"
    previous: ItemPlace
    # True when the author asked to mail this change of an already visible item to the
    # subscribers again; absent (None, left out of the payload) otherwise.
    notify: bool | None = None


class ItemWithdrawn(_ItemEvent):
    type: Literal["item.withdrawn"] = "item.withdrawn"
    previous: ItemPlace


class PageUpdated(_Event):
    """A static page (/{slug}/) was created, changed or deleted; render writes it from the
    database's current state. `previous_title` is its title before (None: the page is new),
    so render knows when the footer that links every page changed."""

    type: Literal["page.updated"] = "page.updated"
    slug: str
    previous_title: str | None = None
    deleted: bool = False


class SubscriptionRequested(_Event):
    """Someone asked to subscribe (checked, normalised): notify records it and mails the
    confirmation in the background, so the request does the same work for any address."""

    type: Literal["subscription.requested"] = "subscription.requested"
    email: str
    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    frequency: str = "immediate"
    source: str


class MediaUploaded(_Event):
    """A new medium was stored: render writes its files under /media/ (the URL the upload
    answered), whether or not an item shows it yet."""

    type: Literal["media.uploaded"] = "media.uploaded"
    media_id: uuid.UUID


Event = Annotated[ItemPublished | ItemUpdated | ItemWithdrawn, Field(discriminator="type")]
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict) -> ItemPublished | ItemUpdated | ItemWithdrawn:
    """An item event from its JSON form, as a consumer receives it."""
    return _event_adapter.validate_python(data)


def parse_page_event(data: dict) -> PageUpdated:
    """A page event from its JSON form, as render receives it."""
    return PageUpdated.model_validate(data)


# Who consumes what: event type -> (task name, queue). The relay sends by name, so a
# consumer is deployed and restarted alone and no service imports another.
_EVERY_ITEM_EVENT = (
    ("render.handle_event", "render"),
    ("notify.handle_event", "notify"),
    ("search.index_item", "search"),
)
CONSUMERS: dict[str, tuple[tuple[str, str], ...]] = {
    "item.published": _EVERY_ITEM_EVENT,
    "item.updated": _EVERY_ITEM_EVENT,
    "item.withdrawn": _EVERY_ITEM_EVENT,
    "page.updated": (("render.handle_event", "render"),),
    "subscription.requested": (("notify.handle_subscription", "notify"),),
    "media.uploaded": (("render.publish_media", "render"),),
}


# Questions Redaktionen asks other services by task name, answered through the result
# backend (shared/previews.py): task name -> the queue of the service that answers.
PREVIEW_ITEM = ("render.preview_item", "render")
PREVIEW_NEWSLETTER = ("notify.preview_newsletter", "notify")
COUNT_RECIPIENTS = ("notify.count_recipients", "notify")
SEND_TEST_NEWSLETTER = ("notify.send_test_newsletter", "notify")
