"""Notify's HTML pages: the subscription, link and settings pages people see, in Swedish, in
the site's layout and stylesheet."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from services.notify import rendering, subscriptions
from services.notify.preferences import Preferences, describe
from services.notify.schemas import ACCEPTED_DETAIL
from shared import subscribing, taxonomy

# Pages reached with a token in the URL: never cached, never leaked in a Referer header.
TOKEN_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def _html(template: str, *, status: int = 200, headers=None, **context) -> HTMLResponse:
    return HTMLResponse(
        rendering.render(template, **context),
        status_code=status,
        headers={**TOKEN_PAGE_HEADERS, **(headers or {})},
    )


def _link(path: str, token: str) -> str:
    return f"{rendering.site_path(path)}?token={token}"


def _choices(chosen: Preferences) -> dict:
    """What the choice fieldsets need: what is ticked, every option, the rule and what the
    ticked choice means."""
    return {
        "chosen": chosen,
        "choice": describe(chosen),
        "all_regions": taxonomy.regions(),
        "all_topics": taxonomy.topics(),
        "rule": subscribing.CHOICE_RULE,
        "example": subscribing.CHOICE_EXAMPLE,
    }


def page(
    heading: str,
    *paragraphs: str,
    status: int = 200,
    error: bool = False,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A heading, a few paragraphs and a link onwards."""
    return _html(
        "pages/message.html",
        status=status,
        headers=headers,
        heading=heading,
        paragraphs=paragraphs,
        error=error,
        link_url=link[1] if link else None,
        link_text=link[0] if link else None,
    )


def subscribe_page_url() -> str:
    return rendering.site_path("/prenumerera/")


def subscribe_form_page(
    *, email: str, chosen: Preferences, errors: list[dict[str, str]]
) -> HTMLResponse:
    """The subscription form again, everything as it was sent, with what to correct."""
    return _html(
        "pages/subscribe.html",
        status=400,
        heading="Prenumerera på nyheter",
        email=email,
        errors=_by_field(errors),
        consent=subscriptions.consent_text(),
        **_choices(chosen),
    )


def subscribe_page(chosen: Preferences) -> HTMLResponse:
    """The subscription form with the choices a link made ticked (no token: cacheable like the
    site's pages, and the form's post keeps its Origin, which the cross-site check reads)."""
    return HTMLResponse(
        rendering.render(
            "pages/subscribe.html",
            heading="Prenumerera på nyheter",
            email="",
            errors={},
            consent=subscriptions.consent_text(),
            canonical=rendering.absolute_url("/prenumerera/"),
            **_choices(chosen),
        ),
        headers={"Cache-Control": "no-cache"},
    )


def _by_field(errors: list[dict[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in errors:
        before = found.get(error["field"])
        found[error["field"]] = f"{before} {error['message']}" if before else error["message"]
    return found


def accepted_page(chosen: Preferences) -> HTMLResponse:
    """A form's subscription was accepted: the mail is on its way."""
    return page(
        "Kolla din e-post",
        ACCEPTED_DETAIL,
        describe(chosen),
        "Hittar du inget mejl inom några minuter, titta i skräpposten.",
        status=202,
    )


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


def confirm_page(subscriber, *, token: str) -> HTMLResponse:
    """What a confirmation link opens: the choices and a button, or why there is none."""
    outcome = subscriptions.confirmation_state(subscriber)
    if outcome != "pending":
        return confirmed_page(outcome)
    return _html(
        "pages/confirm.html",
        heading="Bekräfta din prenumeration",
        email=subscriber.email,
        choice=describe(Preferences.of(subscriber)),
        action=_link("/prenumeration/bekrafta", token),
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


def manage_page(
    subscriber,
    *,
    token: str,
    saved: bool = False,
    chosen: Preferences | None = None,
    errors: list[dict[str, str]] | None = None,
) -> HTMLResponse:
    """A subscriber's settings form: what is stored, or what was sent with its errors."""
    return _html(
        "pages/manage.html",
        status=400 if errors else 200,
        heading="Dina inställningar",
        email=subscriber.email,
        action=_link("/prenumeration/installningar", token),
        unsubscribe_url=subscriptions.links(subscriber)["unsubscribe_url"],
        saved=saved,
        errors=_by_field(errors or []),
        **_choices(chosen or Preferences.of(subscriber)),
    )


def not_subscribed_page() -> HTMLResponse:
    return page(
        "Ingen aktiv prenumeration",
        "Adressen prenumererar inte längre, så det finns inga inställningar att ändra.",
        link=("Prenumerera igen", subscribe_page_url()),
    )


def unsubscribe_page(subscriber, *, token: str) -> HTMLResponse:
    """The page an unsubscribe link opens: a button (a GET changes nothing), or, once that
    is done, a page that says so."""
    if subscriber.status == "unsubscribed":
        return unsubscribed_page()
    return _html(
        "pages/unsubscribe.html",
        heading="Avsluta prenumerationen",
        email=subscriber.email,
        action=_link("/prenumeration/avregistrera", token),
    )


def unsubscribed_page() -> HTMLResponse:
    return page(
        "Du prenumererar inte längre",
        "Prenumerationen är avslutad. Vi skickar inga fler nyheter till din adress.",
        link=("Ångrade du dig? Prenumerera igen", subscribe_page_url()),
    )
