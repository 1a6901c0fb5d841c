"""The sample items as editors would have written them: what `newsroom seed` loads."""

import json
import re
from pathlib import Path

from shared.markup import render_markdown

SAMPLE = Path(__file__).parents[2] / "shared" / "data" / "sample_items.json"


def _items() -> list[dict]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))["items"]


def test_no_period_after_an_exclamation_or_question_mark():
    for item in _items():
        for field in ("title", "summary", "body"):
            assert not re.search(r"[!?][”’\"']?\.", item[field]), (item["title"], field)


def test_summaries_are_one_line_without_doubled_spaces():
    for item in _items():
        for field in ("title", "summary"):
            assert not re.search(r"[\n\r\u2028\u2029]|\s{2,}", item[field]), item["title"]
        assert not re.search(r"\s{2,}", item["body"].replace("\n\n", "\n")), item["title"]


def test_quotes_are_not_bullet_lists():
    """A Swedish quotation dash is "–": a line that starts with "- " is a list in Markdown."""
    for item in _items():
        assert "<li>" not in render_markdown(item["body"]), item["title"]
        assert not re.search(r"(^|\n)- ", item["body"]), item["title"]
