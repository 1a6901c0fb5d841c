"""Item files: YAML front matter plus Markdown, parsed without a server."""

from __future__ import annotations

import io
import re

import pytest

from services.ingest.authoring import post_file
from services.ingest.frontmatter import ItemFileError, parse_item_file

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
        ("---\ntitle: [oavslutad\n---\nText", "rad 2: listan inom"),
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
        FILE.replace("nationella-kansliet", "region-atlantis").replace(
            "2021-03-25T09:00:00+01:00", "den 25 mars"
        ),
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


def error_of(front_matter: str) -> ItemFileError:
    with pytest.raises(ItemFileError) as caught:
        parse_item_file(f"---\n{front_matter}\n---\nText\n")
    return caught.value


# Words of PyYAML's own messages, which must not reach an author.
YAML_WORDS = re.compile(r"mapping values|cannot start|while (?:scanning|parsing)|expected|found")


@pytest.mark.parametrize(
    ("front_matter", "line", "message"),
    [
        (
            "title: Workshop: textilier\nsummary: Kort.",
            2,
            "titeln innehåller ett kolon följt av mellanslag; sätt titeln inom citattecken: "
            'title: "Workshop: textilier"',
        ),
        (
            "title: Rubrik\nregions: [region-skane]\nsummary: Svar: ja",
            4,
            'sätt sammanfattningen inom citattecken: summary: "Svar: ja"',
        ),
        ("title: Rubrik\nsummary: x\n\tregions: [region-skane]", 4, "tabbtecken"),
        ("title: Rubrik\nregions: [region-skane\ntopics: [miljo]", 3, "listan inom [ ]"),
        ('title: "Rubrik\nsummary: x', 2, "citattecknet som börjar här"),
        ("title: Rubrik\n  summary: x", 3, "raden är indragen"),
        ("title Rubrik\nsummary: x", 2, "saknar kolon"),
        ("title: Ett\nsummary: x\ntitle: Två", 4, "fältet title förekommer flera gånger"),
        ("title: @anna", 2, 'sätt titeln inom citattecken: title: "@anna"'),
        ("title: Rubrik\nsummary: a\uffffb", 3, "otillåtet tecken U+FFFF"),
    ],
)
def test_front_matter_errors_name_the_files_line_and_a_fix(front_matter, line, message):
    error = error_of(front_matter)
    assert error.line == line
    assert str(error).startswith(f"rad {line}: ")
    assert message in str(error)
    assert not YAML_WORDS.search(str(error))


def test_what_authors_write_is_understood():
    data = parse_item_file(
        "---\ntitle: Rubrik\nsummary: Kort.\nregions: region-skane\n"
        "topics: textilier, miljo\ndate: 2021-04-29\n---\nText\n"
    )
    assert data["regions"] == ["region-skane"]
    assert data["topics"] == ["textilier", "miljo"]
    assert data["published_at"] == "2021-04-29T00:00:00+02:00" and "date" not in data
    for written, meant in [
        ("2021-04-29 09:30", "2021-04-29T09:30:00+02:00"),  # summer time
        ("2021-01-10T09:00", "2021-01-10T09:00:00+01:00"),  # winter time
        ("2021-04-29T09:00:00+02:00", "2021-04-29T09:00:00+02:00"),  # as written
        ("i morgon", "i morgon"),  # for the API to refuse
    ]:
        front = f"---\ntitle: R\nsummary: S\nregions: [region-skane]\ndate: {written}\n---\nT"
        assert parse_item_file(front)["published_at"] == meant
    assert "inte båda" in str(error_of("title: R\ndate: 2021-04-29\npublished_at: 2021-04-29"))


def test_newsroom_post_speaks_swedish(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from newsroom.cli import main

    monkeypatch.delenv("NEWSROOM_TOKEN", raising=False)
    path = tmp_path / "nyhet.md"
    path.write_text(FILE, encoding="utf-8")
    runner = CliRunner()
    no_token = runner.invoke(main, ["post", str(path)])
    assert no_token.exit_code == 1
    assert no_token.output == "Ange en token (--token eller NEWSROOM_TOKEN).\n"
    missing = runner.invoke(main, ["post", str(tmp_path / "saknas.md"), "--token", "t"])
    assert missing.exit_code == 2
    assert missing.output == f"Kan inte läsa {tmp_path / 'saknas.md'}: filen finns inte\n"
    assert "Usage" not in no_token.output + missing.output
    offline = runner.invoke(
        main, ["post", str(path), "--token", "t", "--url", "http://127.0.0.1:9"]
    )
    assert offline.exit_code == 1
    assert offline.output == (
        "Kan inte nå http://127.0.0.1:9/api/v1/items: ingen tjänst svarar på den adressen\n"
    )
