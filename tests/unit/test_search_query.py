"""The reader's query cut into terms, stems as PostgreSQL's Snowball makes them, snippets."""

from __future__ import annotations

import pytest

from services.search import swedish
from services.search.query import MAX_LENGTH, QueryError, parse
from services.search.snippets import Marker


def terms(text: str) -> list[tuple[tuple[str, ...], bool, str | None]]:
    return [(term.words, term.excluded, term.prefix) for term in parse(text).terms]


def test_words_phrases_and_exclusions():
    assert terms('hållbara "due diligence" -kina') == [
        (("hållbara",), False, "hållb"),
        (("due", "diligence"), False, None),
        (("kina",), True, None),
    ]


def test_swedish_quotes_and_an_unclosed_quote_make_phrases():
    assert terms("”tvångsarbete i Kina”") == [(("tvångsarbete", "i", "kina"), False, None)]
    assert terms('"due diligence') == [(("due", "diligence"), False, None)]


def test_a_word_of_several_parts_is_a_phrase():
    assert terms("e-post 2.0") == [(("e", "post"), False, None), (("2", "0"), False, None)]


def test_syntax_of_the_databases_is_only_text():
    assert terms("a:* & !b | c <-> d NEAR(x)") == [
        (("a",), False, None),
        (("b",), False, None),
        (("c",), False, None),
        (("d",), False, None),
        (("near", "x"), False, None),
    ]


def test_control_characters_separate_words():
    assert terms("kina\x00handskar\x1b") == [
        (("kina",), False, "kin"),
        (("handskar",), False, "handsk"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Skriv ett eller flera ord"),
        ("   \t", "Skriv ett eller flera ord"),
        ("x" * (MAX_LENGTH + 1), "för lång"),
        ('- " " -"" ***', "inga ord att söka efter"),
        ("och att i", "vanliga ord"),
        ("-kina -indien", "inte bara ord att utesluta"),
        (" ".join(f"ord{n}" for n in range(20)), "för många ord"),
    ],
)
def test_what_cannot_be_searched_is_said_in_swedish(text, message):
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_stems_are_snowballs_swedish():
    assert swedish.stem("upphandlingar") == swedish.stem("upphandling") == "upphandling"
    assert swedish.stem("får") != swedish.stem("far")
    assert swedish.words("Får FAR Ägg") == ["får", "far", "ägg"]


def test_a_decomposed_letter_is_the_same_letter():
    assert swedish.words(swedish.normalize("a\u030angen")) == ["ången"]


def test_marking_escapes_first():
    marker = Marker(*parse("biogas").highlight_stems())
    assert str(marker.mark("<b>Biogas</b> & mer")) == (
        "&lt;b&gt;<mark>Biogas</mark>&lt;/b&gt; &amp; mer"
    )


def test_a_snippet_is_cut_around_the_matches():
    marker = Marker(*parse("biogas").highlight_stems())
    text = " ".join(["ord"] * 100 + ["biogasen"] + ["ord"] * 100)
    snippet = str(marker.snippet("Ingen träff här.", text))
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "<mark>biogasen</mark>" in snippet and snippet.count("ord") < 40


def test_words_are_stemmed_all_at_once_in_order():
    long = "x" * (swedish.MAX_WORD + 1)
    assert swedish.stem_all(["upphandlingar", long, "hållbara"]) == [
        "upphandling",
        long,
        swedish.stem("hållbara"),
    ]
    assert swedish.stem_all([]) == []
