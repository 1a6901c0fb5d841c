"""The sample site as a reader meets it after `make run`: each summary said once, as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.ingest.service import seed
from services.render.rebuild import rebuild
from shared.db import session_scope
from shared.models import Item

SAMPLE = Path(__file__).parents[2] / "shared" / "data" / "sample_items.json"


def plain(text: str) -> str:
    return " ".join(text.split())


pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not DB


def test_every_sample_item_page_says_its_summary_once(db, site_dir):
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    with session_scope() as session:
        seed(session=session, items=data["items"], pages=data["pages"])
    rebuild(site_dir=site_dir)
    with session_scope() as session:
        items = session.query(Item).all()
    assert len(items) == len(data["items"])
    for item in items:
        page = (site_dir / item.path.strip("/") / "index.html").read_text(encoding="utf-8")
        article = page[page.index("<article") : page.index("</article>")]
        text = plain(re.sub(r"<[^>]+>", " ", article).replace("&amp;", "&"))
        assert text.count(plain(item.summary)) == 1, item.title
    front = (site_dir / "index.html").read_text(encoding="utf-8")
    assert "läkemedel!</p>" in front
    assert not re.search(r"[!?][”\"]?\.</p>", front)
    assert not re.search(r"<p>[^<]*\n[^<]*</p>", front)  # no summary broken over lines
