"""Redaktionen's pages, whichever service answers them: the security headers of every page,
the layout and macros (`templates/`), the CSS and JS (`static/`, served by ingest at
/redaktion/static/), Swedish times, redirects."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from shared import dates, taxonomy
from shared.config import get_settings

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PREFIX = "/redaktion"
# No inline script or style, nothing from elsewhere: the pages load their own CSS and JS only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    # Pages show unpublished text and personal data: never stored by a browser or proxy.
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def local_time(moment: datetime | None) -> str:
    """ "29 apr 2021 kl. 09:00" in the site's time zone."""
    if moment is None:
        return ""
    settings = get_settings()
    local = moment.astimezone(ZoneInfo(settings.timezone))
    day = dates.short_date(local, timezone=settings.timezone, language=settings.language)
    return f"{day} kl. {local:%H:%M}"


def iso(moment: datetime | None) -> str:
    """A machine-readable time for <time datetime>, to the second (HTML allows 3 decimals)."""
    return moment.isoformat(timespec="seconds") if moment else ""


def number(value: int) -> str:
    """12 345: Swedish digit groups (a no-break space)."""
    return f"{value:,}".replace(",", "\u00a0")


@lru_cache(maxsize=8)
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of a static file, with its content hash so a browser may cache it for good."""
    return f"{PREFIX}/static/{name}?v={_static_version(name)}"


def make_environment(folders: Sequence[Path]) -> Environment:
    """Templates of a service (`folders`, searched first) over the shared layout and macros."""
    env = Environment(
        loader=FileSystemLoader([*folders, TEMPLATES]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    env.filters["iso"] = iso
    env.filters["number"] = number
    env.filters["region_name"] = lambda slug: taxonomy.regions().get(slug, slug)
    env.filters["topic_name"] = lambda slug: taxonomy.topics().get(slug, slug)
    env.globals["static_url"] = static_url
    env.globals["prefix"] = PREFIX
    return env


@lru_cache(maxsize=1)
def shared_environment() -> Environment:
    """The shared templates alone (the message page of the 403 and 404 answers)."""
    return make_environment([])


def csrf_field(request: Request) -> Markup:
    """The hidden field every POST form carries (asgi-csrf compares it with its cookie)."""
    token = request.scope["csrftoken"]()
    return Markup('<input type="hidden" name="csrftoken" value="{}">').format(token)


def render(
    environment: Environment,
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page of Redaktionen with its security headers."""
    settings = get_settings()
    context.setdefault("user", None)
    context.setdefault("errors", [])
    context.setdefault("notice", None)
    html = environment.get_template(template).render(
        request=request,
        site_title=settings.site_title,
        base_url=settings.public_url,
        csrf_field=lambda: csrf_field(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


def redirect(url: str) -> RedirectResponse:
    """See other (303): after a POST the browser GETs the next page."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def static_file(name: str) -> Response:
    """One of Redaktionen's own CSS or JS files (only those that exist here)."""
    path = STATIC / name
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or path.parent != STATIC or not path.is_file():
        return Response("Finns inte.", status_code=404, media_type="text/plain; charset=utf-8")
    return Response(
        path.read_bytes(),
        media_type=kind,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


def absolute(path: str) -> str:
    """A path of Redaktionen as a full URL under NEWSROOM_BASE_URL (for mails)."""
    return get_settings().public_url + path


def wants_json(request: Request) -> bool:
    """The page's script asked (autosave); a plain form post gets a page."""
    return "application/json" in request.headers.get("accept", "")


__all__ = [
    "CSP",
    "PAGE_HEADERS",
    "PREFIX",
    "absolute",
    "csrf_field",
    "iso",
    "local_time",
    "make_environment",
    "number",
    "redirect",
    "render",
    "shared_environment",
    "static_file",
    "static_url",
    "wants_json",
]
