"""Item files: YAML front matter plus Markdown, parsed without a server."""

from __future__ import annotations

import io

import pytest

from services.ingest.authoring import ItemFileError, parse_item_file, post_file

FILE = """---
title: "Året i korthet – Verksamhetsrapport 2020"
summary: Regionernas arbete under 2020.
published_at: 2021-03-25T09:00:00+01:00
regions: [nationella-kansliet]
topics:
  - verksamhetsrapport
author:
  name: Åsa Öberg
---

Under 2020 har regionerna **tillsammans** följt upp leverantörer.

- en punkt
"""


def test_front_matter_and_markdown_become_the_api_fields():
    data = parse_item_file(FILE)
    assert data == {
        "title": "Året i korthet – Verksamhetsrapport 2020",
        "summary": "Regionernas arbete under 2020.",
        # Kept as written (YAML would make it a datetime): the API judges it, offset included.
        "published_at": "2021-03-25T09:00:00+01:00",
        "regions": ["nationella-kansliet"],
        "topics": ["verksamhetsrapport"],
        "author": {"name": "Åsa Öberg"},
        "body": "Under 2020 har regionerna **tillsammans** följt upp leverantörer.\n\n- en punkt",
    }


def test_windows_line_endings_and_a_byte_order_mark_are_fine():
    data = parse_item_file("\ufeff" + FILE.replace("\n", "\r\n"))
    assert data["title"].startswith("Året") and "\r" not in data["body"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Bara text", "måste börja"),
        ("---\ntitle: x\nText utan slut", "avslutande"),
        ("---\n- en\n- lista\n---\nText", "fält och värden"),
        ("---\ntitle: [oavslutad\n---\nText", "YAML"),
        ("---\nbody: dubbel\n---\nText", "body"),
    ],
)
def test_malformed_files_are_explained(text, message):
    with pytest.raises(ItemFileError, match=message):
        parse_item_file(text)


def test_yaml_tags_cannot_run_code():
    with pytest.raises(ItemFileError):
        parse_item_file("---\ntitle: !!python/object/apply:os.system ['true']\n---\nText")


def test_dry_run_validates_without_a_server(tmp_path):
    path = tmp_path / "nyhet.md"
    path.write_text(FILE, encoding="utf-8")
    out = io.StringIO()
    assert post_file(path=path, url="http://127.0.0.1:9", token=None, dry_run=True, out=out) == 0
    assert "giltig" in out.getvalue()

    path.write_text(
        FILE.replace("nationella-kansliet", "region-atlantis").replace("+01:00", ""),
        encoding="utf-8",
    )
    out = io.StringIO()
    assert post_file(path=path, url="http://127.0.0.1:9", token=None, dry_run=True, out=out) == 1
    lines = out.getvalue().splitlines()
    assert any(line.strip().startswith("regions:") and "region-atlantis" in line for line in lines)
    assert any(line.strip().startswith("published_at:") for line in lines)


def test_an_unreadable_file_is_exit_code_2(tmp_path):
    out = io.StringIO()
    assert post_file(path=tmp_path / "finns-inte.md", url="http://x", token="t", out=out) == 2
    (tmp_path / "binär.md").write_bytes(b"\xff\xfe\x00")
    assert post_file(path=tmp_path / "binär.md", url="http://x", token="t", out=out) == 2


def test_dry_run_errors_are_swedish(tmp_path):
    path = tmp_path / "nyhet.md"
    path.write_text(
        "---\ntitle: Rubrik\nregions: [region-skane]\ntopics: [rymden]\nfärg: blå\n---\nText\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert post_file(path=path, url="http://127.0.0.1:9", token=None, dry_run=True, out=out) == 1
    lines = out.getvalue().splitlines()
    assert "  summary: fältet måste anges" in lines
    assert "  topics: okänt ämne: rymden" in lines
    assert "  färg: okänt fält" in lines
