"""Jinja2 for notify's mails and pages: Swedish dates, taxonomy names, CSS inlined for mail."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared import dates, layout, media, taxonomy
from shared.config import get_settings

TEMPLATES = Path(__file__).parent / "templates"


def swedish_date(value: date | datetime) -> str:
    """ "29 apr 2021", in the site's time zone."""
    settings = get_settings()
    return dates.short_date(value, timezone=settings.timezone, language=settings.language)


def site_path(path: str) -> str:
    """A root-relative link to a path of the site ("/prenumerera/"), as the site's own pages
    link: under the path NEWSROOM_BASE_URL may have."""
    return urlsplit(get_settings().public_url).path.rstrip("/") + path


def absolute_url(path: str) -> str:
    """The full URL of a site path ("/prenumerera/")."""
    return get_settings().public_url + path


def region_name(slug: str) -> str:
    return taxonomy.regions().get(slug, slug)


def topic_name(slug: str) -> str:
    return taxonomy.topics().get(slug, slug)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([TEMPLATES, layout.TEMPLATES]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["datum"] = swedish_date
    env.filters["region_name"] = region_name
    env.filters["topic_name"] = topic_name
    env.filters["url"] = site_path
    # Uploaded media that newsletters.contents loaded (shared.media.load_for).
    env.globals["item_image"] = media.item_image
    env.globals["item_documents"] = media.item_documents
    return env


def render(name: str, **context) -> str:
    """One template with the site's common context (title, base URL)."""
    settings = get_settings()
    context.setdefault("site_title", settings.site_title)
    context.setdefault("base_url", settings.public_url)
    context.setdefault("lang", settings.language)
    context.setdefault("section", "prenumerera")  # the menu's current section on its pages
    return environment().get_template(name).render(**context)


def render_mail_html(name: str, **context) -> str:
    """An HTML mail with its stylesheet moved into style attributes (Outlook, Gmail)."""
    return css_inline.inline(render(name, **context))
