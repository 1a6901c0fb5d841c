"""The item page of Redaktionen: the form, its actions and what each does to subscribers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from services.ingest import reviews
from services.ingest.editor import checks, diffs, listing, previews, web
from services.ingest.editor.forms import FieldError, ItemForm
from services.ingest.permissions import is_editor
from shared import taxonomy
from shared.config import get_settings
from shared.models import Contributor, Item

SUMMARY_MAX = 600
# What each action does, shown beside its button (subscribers first: that cannot be undone).
EXPLAINED = {
    "forhandsgranska": "Visar sidan på webbplatsen och mejlet till prenumeranterna som de "
    "kommer att se ut, utan att spara eller publicera något.",
    "spara": "Sparar utan att publicera. Inget syns på webbplatsen och inget mejl skickas.",
    "publicera": "Nyheten syns direkt på webbplatsen och i flödena. Är rutan ”Skicka till "
    "prenumeranter” ikryssad får prenumeranterna på nyhetens regioner och ämnen ett mejl.",
    "schemalagg": "Nyheten syns på webbplatsen vid datum och tid ovan. Är rutan ”Skicka till "
    "prenumeranter” ikryssad får prenumeranterna ett mejl då, inte förr.",
    "granskning": "En redaktör läser nyheten och publicerar den eller skickar tillbaka den "
    "med en kommentar. Inget syns och inget mejl skickas förrän den publiceras.",
    "uppdatera": "Ändringen syns direkt på webbplatsen och i flödena. Prenumeranterna får "
    "inget nytt mejl, om du inte kryssar i rutan ovan.",
    "provmejl": "Skickar nyhetsbrevet som prenumeranterna får till din e-postadress, och bara "
    "till dig. Inget sparas.",
}
BUTTONS = {
    "forhandsgranska": "Förhandsgranska",
    "spara": "Spara utkast",
    "publicera": "Publicera",
    "schemalagg": "Schemalägg",
    "granskning": "Skicka för granskning",
    "uppdatera": "Uppdatera",
    "provmejl": "Skicka ett provmejl till mig",
}
SAVED = {
    "spara": "Utkastet är sparat. Det syns inte på webbplatsen.",
    "publicera": "Nyheten är publicerad.",
    "schemalagg": "Nyheten är schemalagd.",
    "granskning": "Nyheten är skickad för granskning. En redaktör tittar på den.",
    "uppdatera": "Ändringen är sparad och syns på webbplatsen.",
    "aterstalld": "Den valda versionen är återställd och sparad som en ny version.",
    "aterskickad": "Nyheten är skickad tillbaka till skribenten med din kommentar.",
    "aterkallad": "Nyheten är återkallad. Den syns inte längre på webbplatsen eller i flödena.",
    "media": "Ändringen av bild eller dokument är sparad som en ny version.",
}


def actions(*, user: Contributor, item: Item | None, state: str) -> list[str]:
    """The buttons of the form for this person and this item."""
    if state == "aterkallad":
        return []
    if state == "publicerad":
        chosen = [] if user.review_required else ["forhandsgranska", "uppdatera"]
    elif user.review_required:
        chosen = ["forhandsgranska", "spara", "granskning"]
    else:
        chosen = ["forhandsgranska", "spara", "publicera", "schemalagg", "granskning"]
    return [*chosen, "provmejl"] if chosen and user.email else chosen


# What each button does to subscribers, said on the button: (when the box is ticked, when
# not); {n} is how many the item reaches now. None: the button mails nobody either way.
EFFECTS = {
    "spara": (" – inget mejl", " – inget mejl"),
    "granskning": (" – inget mejl än", " – inget mejl än"),
    "publicera": (" – skickas till {n}", " – inget mejl"),
    "schemalagg": (" – skickas till {n} på utsatt tid", " – inget mejl"),
    "uppdatera": (" – skickas igen till {n}", " – inget nytt mejl"),
}


def effects(*, form: ItemForm, reach: previews.Reach | None) -> dict[str, dict[str, str]]:
    """Each button's effect on subscribers as the form stands, and both texts for the
    script, which follows the boxes: {action: {"now", "on", "off", "box"}}."""
    phrase = reach.phrase() if reach is not None else "prenumeranterna"
    found = {}
    for action, (on, off) in EFFECTS.items():
        box = "skicka_igen" if action == "uppdatera" else "skicka"
        ticked = form.notify_again if box == "skicka_igen" else form.notify
        found[action] = {
            "now": (on if ticked else off).format(n=phrase),
            "on": on,
            "off": off,
            "box": box,
        }
    return found


def region_choices(user: Contributor, form: ItemForm) -> list[tuple[str, str]]:
    """The regions this person may publish for (and any the item already has)."""
    names = taxonomy.regions()
    if is_editor(user):
        return list(names.items())
    allowed = [*user.writes_for, *[slug for slug in form.regions if slug not in user.writes_for]]
    return [(slug, names.get(slug, slug)) for slug in allowed]


def render(
    request: Request,
    *,
    session: Session,
    user: Contributor,
    item: Item | None,
    form: ItemForm,
    now: datetime,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
    preview: previews.Preview | None = None,
    conflict: list[diffs.FieldDiff] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    """The item form with everything around it."""
    in_review = item is not None and listing.in_review(session=session, item=item)
    state = "utkast" if item is None else listing.status_key(item, in_review=in_review, now=now)
    review = reviews.latest_review(session=session, item_id=item.id) if item is not None else None
    # Asked of notify each time the form is shown: the count follows the boxes as they are.
    reach = None
    if state != "aterkallad":
        # Briefly: a form must not wait long for a number when notify is down.
        timeout = min(3.0, get_settings().editor_task_timeout)
        reach = previews.reach(regions=form.regions, topics=form.topics, timeout=timeout)
    context: dict[str, Any] = {
        "user": user,
        "item": item,
        "form": form,
        "errors": errors or [],
        "state": state,
        "state_word": listing.STATUSES[state],
        "review": review,
        "actions": actions(user=user, item=item, state=state),
        "buttons": BUTTONS,
        "explained": EXPLAINED,
        "regions": region_choices(user, form),
        "topics": list(taxonomy.topics().items()),
        "summary_max": SUMMARY_MAX,
        "advice": checks.advise(title=form.title, summary=form.summary, body=form.body),
        "lix": checks.lix(form.body),
        "lix_meaning": checks.lix_meaning,
        "preview": preview,
        "reach": reach,
        "effects": effects(form=form, reach=reach),
        "conflict": conflict,
        "notice": notice,
        "author": (item.author_name if item is not None and item.author_name else user.name),
        "is_editor": is_editor(user),
        "action_url": f"{web.PREFIX}/nyheter/{item.id}" if item else f"{web.PREFIX}/nyheter/ny",
        "autosave": state in ("utkast", "granskning"),
    }
    return web.page(request, "item.html", status_code=status_code, **context)


__all__ = ["BUTTONS", "EFFECTS", "EXPLAINED", "SAVED", "actions", "effects", "render"]
