"""Notify's HTML pages: the subscription, link and settings pages people see, in Swedish."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from services.notify import rendering, subscriptions
from shared import taxonomy
from shared.config import get_settings

# Pages reached with a token in the URL: never cached, never leaked in a Referer header.
TOKEN_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def page(
    heading: str,
    *paragraphs: str,
    status: int = 200,
    error: bool = False,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    html = rendering.render(
        "pages/message.html",
        heading=heading,
        paragraphs=paragraphs,
        error=error,
        link_url=link[1] if link else None,
        link_text=link[0] if link else None,
    )
    return HTMLResponse(html, status_code=status, headers={**TOKEN_PAGE_HEADERS, **(headers or {})})


def invalid_link_page() -> HTMLResponse:
    return page(
        "Länken fungerar inte",
        "Länken är felaktig, för gammal eller gjord för något annat. Länkar i våra mejl "
        "gäller en begränsad tid.",
        "Vill du prenumerera kan du anmäla dig igen; då får du en ny länk.",
        status=400,
        error=True,
        link=("Prenumerera", subscribe_page_url()),
    )


def subscribe_page_url() -> str:
    return f"{get_settings().public_url}/prenumerera/"


def cross_site_page() -> HTMLResponse:
    """A subscription form posted from another site (cross-site request forgery)."""
    return page(
        "Formuläret kom från en annan webbplats",
        "Anmälan skickades från en annan webbplats än vår, så vi tog inte emot den. "
        "Vill du prenumerera kan du anmäla dig på vår egen sida.",
        status=403,
        error=True,
        link=("Prenumerera", subscribe_page_url()),
    )


def confirmed_page(outcome: str) -> HTMLResponse:
    """What confirming said: "confirmed", "already" or "inactive"."""
    if outcome == "inactive":
        return page(
            "Länken gäller inte längre",
            "Prenumerationen avslutades efter att länken skickades.",
            link=("Prenumerera igen", subscribe_page_url()),
        )
    if outcome == "already":
        return page("Redan bekräftad", "Din prenumeration är redan bekräftad. Välkommen tillbaka!")
    return page(
        "Tack, prenumerationen är bekräftad",
        "Du får nu nyheter enligt dina val. Varje mejl har länkar för att ändra "
        "inställningarna eller avsluta prenumerationen.",
    )


def manage_page(subscriber, *, token: str, saved: bool = False) -> HTMLResponse:
    """A subscriber's settings form."""
    html = rendering.render(
        "pages/manage.html",
        heading="Dina inställningar",
        email=subscriber.email,
        regions=set(subscriber.regions or []),
        topics=set(subscriber.topics or []),
        frequency=subscriber.frequency,
        all_regions=taxonomy.regions(),
        all_topics=taxonomy.topics(),
        action=f"{get_settings().public_url}/prenumeration/installningar?token={token}",
        unsubscribe_url=subscriptions.links(subscriber)["unsubscribe_url"],
        saved=saved,
    )
    return HTMLResponse(html, headers=TOKEN_PAGE_HEADERS)


def not_subscribed_page() -> HTMLResponse:
    return page(
        "Ingen aktiv prenumeration",
        "Adressen prenumererar inte längre, så det finns inga inställningar att ändra.",
        link=("Prenumerera igen", subscribe_page_url()),
    )


def unsubscribe_page(subscriber, *, token: str) -> HTMLResponse:
    """The page an unsubscribe link opens: a button, since a GET changes nothing."""
    html = rendering.render(
        "pages/unsubscribe.html",
        heading="Avsluta prenumerationen",
        email=subscriber.email,
        action=f"{get_settings().public_url}/prenumeration/avregistrera?token={token}",
    )
    return HTMLResponse(html, headers=TOKEN_PAGE_HEADERS)


def unsubscribed_page() -> HTMLResponse:
    return page(
        "Du prenumererar inte längre",
        "Vi skickar inga fler nyheter till din adress.",
        link=("Ångrade du dig? Prenumerera igen", subscribe_page_url()),
    )
