"""A reader finds their way in a browser, with JavaScript and without: the main menu marks the
section, /region/ leads to a region, whose subscribe link opens the form with that region
ticked, and the header's search box answers from every page (the one-process app: the site,
notify and search). The pages it passes and the dynamic ones pass axe-core and the Nu checker."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from newsroom.embedded import create_app
from services.render.rebuild import rebuild
from tests.browser import DESKTOP, PHONE, asgi_server, assert_fits_screen, assert_valid_html, axe
from tests.integration.test_render_site import add_item

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not DB


@pytest.fixture
def site(db, site_dir: Path):
    add_item(
        title="Handskar från Malaysia granskas",
        published_at=datetime(2021, 3, 4, 9, tzinfo=UTC),
        region_slugs=("region-skane",),
        topic_slugs=("handskar",),
    )
    add_item(
        title="Textilier i Gotland",
        published_at=datetime(2021, 4, 8, 9, tzinfo=UTC),
        region_slugs=("region-gotland",),
        topic_slugs=("textilier",),
    )
    rebuild(site_dir=site_dir)
    with asgi_server(create_app(with_workers=False)) as base:
        yield base


def test_menu_region_index_and_subscribe_link_tick_the_region(site, new_page, javascript):
    page = new_page(width=PHONE, javascript=javascript)
    page.goto(site + "/")
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Regioner").click()
    expect(page).to_have_url(site + "/region/")
    expect(page.get_by_role("link", name="Regioner", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("link", name="Aktuellt")).not_to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Regioner")
    expect(page.get_by_text("Senast: Handskar från Malaysia granskas, 4 mars 2021")).to_be_visible()
    page.get_by_role("link", name="Region Skåne", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Region Skåne")
    page.get_by_role("link", name="Prenumerera på nyheter från Region Skåne").click()
    expect(page).to_have_url(site + "/prenumerera/?region=region-skane")
    expect(page.get_by_label("Region Skåne")).to_be_checked()
    expect(page.get_by_label("Region Gotland")).not_to_be_checked()
    expect(page.get_by_label("Handskar")).not_to_be_checked()
    expect(page.get_by_role("link", name="Prenumerera", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_label("E-postadress").fill("lasare@example.se")
    page.get_by_role("button", name="Prenumerera").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    expect(page.get_by_text("Du får nyheter från Region Skåne om alla ämnen")).to_be_visible()


def test_the_header_search_box_answers_from_every_page(site, page_without_js):
    """A plain form: what works without JavaScript works with it."""
    page = page_without_js
    for path in ("/arkiv/2021/", "/sok/?q=textil"):
        page.goto(site + path)
        box = page.get_by_role("search", name="Sök på webbplatsen")
        box.get_by_label("Sök", exact=True).fill("handskar")
        box.get_by_role("button", name="Sök").click()
        expect(page).to_have_url(re.compile(r"/sok/\?q=handskar$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Sök")


def test_dynamic_pages_pass_axe_core_and_the_nu_checker(site, new_page):
    """The pages notify and search make in the site's layout (the static ones, /region/,
    /amne/ and the year pages among them: test_render_accessibility, test_render_validity)."""
    paths = ["/prenumerera/?amne=handskar", "/sok/?q=handskar"]
    for width in (PHONE, DESKTOP):
        page = new_page(width=width)
        for path in paths:
            page.goto(site + path)
            axe(page, label=f"{path} @{width}px")
            assert_fits_screen(page)
    assert_valid_html(*(httpx.get(site + path).text for path in paths))
    icon = httpx.get(site + "/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    svg = httpx.get(site + "/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")


def test_nginx_sends_the_subscribe_link_to_notify_and_the_bare_page_to_the_site(
    db, site_dir: Path, tmp_path: Path
):
    """deploy/nginx.conf: /prenumerera/ is the static page; with a query, notify's form with
    that choice ticked (a static page cannot read its query without a script)."""
    import subprocess

    from deploy import stack
    from services.notify.api import create_app as notify_app
    from tests.servers import free_port, wait_for_port

    (site_dir / "prenumerera").mkdir(parents=True)
    (site_dir / "prenumerera/index.html").write_text("den statiska sidan", encoding="utf-8")
    with asgi_server(notify_app()) as notify:
        web_port = free_port()
        local = stack.Local(
            site_dir=site_dir,
            workdir=tmp_path / "stack",
            ports={8001: free_port(), 8002: int(notify.rsplit(":", 1)[1]), 8003: free_port()},
        )
        config = tmp_path / "nginx.conf"
        config.write_text(stack.nginx_config(stack.load(), local, listen=web_port))
        (tmp_path / "nginx").mkdir()
        web = subprocess.Popen(stack.nginx_command(config, tmp_path / "nginx"))
        try:
            wait_for_port("127.0.0.1", web_port, timeout=30)
            base = f"http://127.0.0.1:{web_port}"
            assert httpx.get(base + "/prenumerera/").text == "den statiska sidan"
            linked = httpx.get(base + "/prenumerera/?region=region-skane")
            assert linked.status_code == 200
            assert re.search(r'id="region-region-skane"[^>]* checked>', linked.text)
            assert "script-src 'none'" in linked.headers["content-security-policy"]
        finally:
            web.terminate()
            web.wait(timeout=30)
