"""WCAG 2.1 AA: axe-core in Chromium (Playwright) on representative pages of the sample site at
phone and desktop width, and the front page's layout there (screenshots kept in the test's tmp
folder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.ingest.service import seed
from services.render.rebuild import rebuild
from shared.db import session_scope
from tests import media_items
from tests.browser import DESKTOP, PHONE, overflow, readable, run_axe, static_server

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "shared" / "data" / "sample_items.json"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not DB


@pytest.fixture
def sample_site(db, site_dir: Path) -> Iterator[str]:
    """The sample content rendered as `newsroom seed` + rebuild do, served over HTTP."""
    site_dir.mkdir(parents=True, exist_ok=True)
    with static_server(site_dir) as base:
        data = json.loads(SAMPLE.read_text(encoding="utf-8"))
        # One item with an image and attachments, served from here: the browser stays local.
        data["items"][0] = {
            **data["items"][0],
            "image": {
                "url": f"{base}/bilder/forrad.svg",
                "alt": "Sjukhusets förråd med skyddsrockar",
            },
            "attachments": [{"title": "Åtgärdsplan 2021", "url": f"{base}/bilagor/plan.pdf"}],
        }
        # And one with an uploaded photo and report: a <picture>, documents, small images.
        data["items"][1] = {
            **data["items"][1],
            "image": {"media_id": str(media_items.image(1000, 700)), "alt": "Deltagare"},
            "attachments": [{"title": "Rapporten", "media_id": str(media_items.pdf())}],
        }
        with session_scope() as session:
            seed(session=session, items=data["items"], pages=data["pages"])
        rebuild(site_dir=site_dir)
        (site_dir / "bilder").mkdir()
        (site_dir / "bilder" / "forrad.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="540">'
            '<rect width="960" height="540" fill="#9bb7a8"/></svg>'
        )
        yield base


def representative_pages(site_dir: Path) -> list[str]:
    """One page of every template: lists, an item, archive, year, month, the region and topic
    indexes, a region, a topic, forms."""

    def first(pattern: str) -> str:
        found = sorted(site_dir.glob(pattern))
        assert found, f"no {pattern} in the site"
        return "/" + found[0].parent.relative_to(site_dir).as_posix() + "/"

    illustrated = [
        "/" + page.parent.relative_to(site_dir).as_posix() + "/"
        for page in sorted(site_dir.glob("aktuellt/*/*/*/index.html"))
        if "<img " in page.read_text(encoding="utf-8")
    ]
    assert len(illustrated) == 2  # a linked image, an uploaded one
    return [
        "/",
        "/aktuellt/",
        *illustrated,
        "/arkiv/",
        first("arkiv/*/index.html"),
        first("arkiv/*/*/index.html"),
        "/region/",
        first("region/*/index.html"),
        "/amne/",
        first("amne/*/index.html"),
        "/prenumerera/",
        "/vision/",
        "/404.html",
    ]


def test_axe_core_finds_no_wcag_21_aa_violations(sample_site, site_dir, new_page):
    report, checked = [], {}
    for width in (DESKTOP, PHONE):
        page = new_page(width=width)
        for path in representative_pages(site_dir):
            page.goto(sample_site + path)
            result = run_axe(page)
            checked[f"{path} @{width}"] = result["passes"]
            if result["violations"]:
                report.append(readable(f"{path} @{width}px", result["violations"]))
            # Nothing wider than the screen: a phone reader never scrolls sideways.
            if (wider := overflow(page)) > 0:
                report.append(f"{path} @{width}px: page is {wider} px wider than the screen")
    assert not report, "\n".join(report)
    assert len(checked) == 28 and all(passes > 10 for passes in checked.values()), checked
    print(f"axe-core {result['version']}: no violations on {len(checked)} page views")


def test_front_page_at_phone_and_desktop_width(sample_site, site_dir, new_page, tmp_path):
    shots = {}
    for name, width in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(width=width)
        page.goto(sample_site + "/")
        # What a reader sees first, then the whole page.
        shots[f"{name}-first-screen"] = tmp_path / f"front-{name}-{width}-first-screen.png"
        page.screenshot(path=shots[f"{name}-first-screen"])
        shots[name] = tmp_path / f"front-{name}-{width}.png"
        page.screenshot(path=shots[name], full_page=True)
        # The main column fits the screen, and its text is large enough to read on a phone.
        main = page.get_by_role("main")
        expect(main).to_be_visible()
        box = main.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (name, box)
        font = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 16, (name, font)
    # The pages with most on them, at phone width, to look at beside the front page.
    item, subscribe = representative_pages(site_dir)[2], "/prenumerera/"
    page = new_page(width=PHONE)
    for name, path in (("item", item), ("subscribe", subscribe)):
        page.goto(sample_site + path)
        shots[name] = tmp_path / f"{name}-phone-{PHONE}.png"
        page.screenshot(path=shots[name], full_page=True)
    for shot in shots.values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    print("screenshots:", *shots.values())
