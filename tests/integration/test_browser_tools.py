"""The browser fixtures and page checks of tests/browser.py do what the UI tests rely on: each
check fails on a page that breaks its rule, with a message that says where and why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import (
    DESKTOP,
    PHONE,
    asgi_server,
    assert_fits_screen,
    assert_valid_html,
    axe,
    javascript_runs,
    nu_messages,
    static_server,
)

GOOD = """<!DOCTYPE html>
<html lang="sv">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prov</title></head>
<body>
<main>
<h1>Prov</h1>
<form method="post" action="/spara">
<label for="titel">Rubrik</label> <input id="titel" name="titel">
<button>Spara utkast</button>
</form>
<p id="status">Utan JavaScript</p>
<noscript><p>JavaScript är avstängt.</p></noscript>
</main>
<script src="/enhance.js"></script>
</body>
</html>
"""
ENHANCE = "document.getElementById('status').textContent = 'Med JavaScript';\n"


@pytest.fixture
def site(tmp_path: Path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text(GOOD, encoding="utf-8")
    (tmp_path / "www" / "enhance.js").write_text(ENHANCE, encoding="utf-8")
    with static_server(tmp_path / "www") as base:
        yield base, tmp_path / "www"


def test_ui_page_is_each_width_with_and_without_javascript(site, ui_page, width, javascript):
    base, _ = site
    ui_page.goto(base + "/")
    assert ui_page.viewport_size["width"] == width
    assert javascript_runs(ui_page) is javascript
    status = "Med JavaScript" if javascript else "Utan JavaScript"
    expect(ui_page.get_by_text(status)).to_be_visible()
    expect(ui_page.get_by_label("Rubrik")).to_be_editable()
    expect(ui_page.get_by_role("button", name="Spara utkast")).to_be_visible()
    assert_fits_screen(ui_page)
    result = axe(ui_page)
    assert result["passes"] > 5 and result["version"].startswith("4.")


def test_the_default_pages(page, page_without_js, site):
    base, _ = site
    for opened, runs in ((page, True), (page_without_js, False)):
        opened.goto(base + "/")
        assert opened.viewport_size["width"] == DESKTOP
        assert javascript_runs(opened) is runs
        assert opened.evaluate("() => navigator.language") == "sv-SE"
        zone = opened.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")
        assert zone == "Europe/Stockholm"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_axe_reports_a_violation_readably(new_page, site, javascript):
    base, www = site
    # An image without alt text that only readers without JavaScript get.
    (www / "index.html").write_text(
        GOOD.replace("<noscript><p>", '<noscript><img src="/bild.png"><p>'), encoding="utf-8"
    )
    opened = new_page(width=PHONE, javascript=javascript)
    opened.goto(base + "/")
    if javascript:
        axe(opened)  # the <noscript> image is not in the document JavaScript readers get
        return
    with pytest.raises(AssertionError) as failure:
        axe(opened)
    message = str(failure.value)
    assert f"{base}/ @{PHONE}px: [critical] image-alt:" in message
    assert '<img src="/bild.png">' in message and "alt" in message


def test_fits_screen_catches_a_wide_page(new_page, site):
    base, www = site
    (www / "index.html").write_text(
        GOOD.replace("<h1>Prov</h1>", '<h1>Prov</h1><div style="width: 600px">bred</div>')
    )
    opened = new_page(width=PHONE)
    opened.goto(base + "/")
    with pytest.raises(AssertionError, match=r"is 2\d\d px wider than the screen"):
        assert_fits_screen(opened)


def test_nu_checker_on_strings_and_files(tmp_path):
    assert_valid_html(GOOD)
    broken = tmp_path / "broken.html"
    broken.write_text(GOOD.replace("<title>Prov</title>", ""), encoding="utf-8")
    messages = nu_messages(GOOD.replace('lang="sv"', ""), broken)
    assert {m["type"] for m in messages} >= {"error"}, messages
    assert any("title" in m["message"] for m in messages), messages
    assert any("lang" in m["message"] for m in messages), messages


def form_app():
    """A form that works without JavaScript, as the editor's do."""
    from fastapi import FastAPI, Form
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def form() -> str:
        return GOOD

    @app.post("/spara", response_class=HTMLResponse)
    def save(titel: str = Form()) -> str:
        return GOOD.replace("<h1>Prov</h1>", f'<h1>Prov</h1><p role="status">Sparat: {titel}</p>')

    return app


def test_an_app_served_in_a_thread_takes_a_form_with_and_without_javascript(ui_page):
    with asgi_server(form_app()) as base:
        ui_page.goto(base + "/")
        ui_page.get_by_label("Rubrik").fill("Nya krav på handskar")
        ui_page.get_by_role("button", name="Spara utkast").click()
        expect(ui_page.get_by_role("status")).to_have_text("Sparat: Nya krav på handskar")
        assert ui_page.url == base + "/spara"


def test_asyncio_runs_after_a_browser_test():
    """Runs after the browser tests above in the same process (file order)."""

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42
