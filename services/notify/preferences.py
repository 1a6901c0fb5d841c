"""What a subscriber chose and which items that covers: validation and the one matching rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from email_validator import EmailNotValidError, validate_email

from shared import taxonomy

FREQUENCIES = ("immediate", "weekly")
# Regions or topics one request may list (the API's schema says the same).
MAX_CHOICES = 100


class InvalidSubscription(ValueError):
    """The request's fields are wrong; `errors` is the `{field, message}` list (Swedish)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Preferences:
    """What a subscriber wants; empty regions or topics mean all of them."""

    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    frequency: str = "immediate"

    @classmethod
    def of(cls, subscriber: Tagged) -> Preferences:
        """A subscriber's stored choices."""
        return cls(
            tuple(subscriber.regions or ()),
            tuple(subscriber.topics or ()),
            getattr(subscriber, "frequency", None) or "immediate",
        )


def _either(names: list[str]) -> str:
    """ "A", "A eller B", "A, B eller C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " eller " + names[-1]


def describe(preferences: Preferences) -> str:
    """What a choice means, in one Swedish sentence: "Du får nyheter från Region Skåne om
    Textilier, direkt när de publiceras." """
    regions = [taxonomy.regions().get(slug, slug) for slug in preferences.regions]
    topics = [taxonomy.topics().get(slug, slug) for slug in preferences.topics]
    if not regions and not topics:
        what = "Du får alla nyheter"
    else:
        where = _either(regions) if regions else "alla regioner"
        about = _either(topics) if topics else "alla ämnen"
        what = f"Du får nyheter från {where} om {about}"
    if preferences.frequency == "weekly":
        return f"{what}, samlade i ett mejl i veckan."
    return f"{what}, direkt när de publiceras."


@dataclass(frozen=True)
class SubscriptionRequest:
    email: str
    preferences: Preferences


class Tagged(Protocol):
    """Anything with regions and topics: a subscriber (its choices), a row, an item."""

    regions: Sequence[str] | None
    topics: Sequence[str] | None


def wants(subscriber: Tagged, item: Tagged) -> bool:
    """Whether an item concerns a subscriber: one of its regions AND one of its topics among
    the subscriber's choices, an empty choice meaning every region (or topic)."""
    regions, topics = subscriber.regions or (), subscriber.topics or ()
    region_ok = not regions or not set(regions).isdisjoint(item.regions or ())
    topic_ok = not topics or not set(topics).isdisjoint(item.topics or ())
    return region_ok and topic_ok


def normalise_email(email: str) -> str:
    """The address as stored: validated (syntax only, no DNS), ASCII (an international
    domain in its xn-- form) and lower-cased.

    Addresses with non-ASCII before the @ are refused: they need SMTPUTF8 all the way,
    which few receiving servers offer.
    """
    result = validate_email(email.strip(), check_deliverability=False, allow_smtputf8=False)
    return (result.ascii_email or result.normalized).lower()


def validate_preferences(
    *, regions: Iterable[str], topics: Iterable[str], frequency: str | None
) -> Preferences:
    """Check slugs against the taxonomy and the frequency; raise InvalidSubscription."""
    errors: list[dict[str, str]] = []
    regions, topics = list(regions), list(topics)
    for name, values in (("regions", regions), ("topics", topics)):
        if len(values) > MAX_CHOICES:
            errors.append({"field": name, "message": f"Högst {MAX_CHOICES} val."})
    # An empty value is no slug: refused, as the API's schema says, never silently dropped.
    if "" in regions:
        errors.append({"field": "regions", "message": "Tomt värde: välj en region i listan."})
    if "" in topics:
        errors.append({"field": "topics", "message": "Tomt värde: välj ett ämne i listan."})
    regions = tuple(dict.fromkeys(r for r in regions if r))
    topics = tuple(dict.fromkeys(t for t in topics if t))
    unknown_regions = [slug for slug in regions if slug not in taxonomy.regions()]
    unknown_topics = [slug for slug in topics if slug not in taxonomy.topics()]
    # A few names are enough to help; a flood of junk gets no longer an answer.
    if unknown_regions:
        message = "Okänd region: " + ", ".join(unknown_regions[:5])
        errors.append({"field": "regions", "message": message})
    if unknown_topics:
        errors.append(
            {"field": "topics", "message": "Okänt ämne: " + ", ".join(unknown_topics[:5])}
        )
    frequency = "immediate" if frequency is None else frequency
    if frequency not in FREQUENCIES:
        errors.append({"field": "frequency", "message": "Välj immediate eller weekly."})
    if errors:
        raise InvalidSubscription(errors)
    return Preferences(regions=regions, topics=topics, frequency=frequency)


def validate_request(
    *,
    email: str,
    regions: Iterable[str] = (),
    topics: Iterable[str] = (),
    frequency: str | None = None,
) -> SubscriptionRequest:
    """A checked, normalised subscription request; raise InvalidSubscription."""
    errors: list[dict[str, str]] = []
    normalised = ""
    try:
        normalised = normalise_email(email or "")
    except EmailNotValidError:
        local_part = (email or "").strip().rpartition("@")[0]
        if local_part and not local_part.isascii():
            message = (
                "Adresser med å, ä, ö eller andra specialtecken före @ kan vi inte skicka till."
            )
        else:
            message = "Ange en giltig e-postadress."
        errors.append({"field": "email", "message": message})
    try:
        preferences = validate_preferences(regions=regions, topics=topics, frequency=frequency)
    except InvalidSubscription as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidSubscription(errors)
    return SubscriptionRequest(email=normalised, preferences=preferences)
