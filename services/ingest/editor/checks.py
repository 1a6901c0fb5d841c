"""Advice before publishing, in Swedish: things a reader would notice, never a refusal."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

TITLE_ADVICE_LENGTH = 100
_markdown = MarkdownIt("commonmark").enable("table")
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?:]+(?=\s|$)")


@dataclass(frozen=True)
class Advice:
    field: str  # the form field it is about
    message: str


def plain_text(markdown: str) -> str:
    """What a reader reads of some Markdown: the text without markup."""
    return nh3.clean(_markdown.render(markdown), tags=set()).replace("&amp;", "&")


def first_paragraph(markdown: str) -> str:
    tokens = _markdown.parse(markdown)
    for index, token in enumerate(tokens):
        if token.type == "paragraph_open":
            return tokens[index + 1].content
    return ""


def _normal(text: str) -> str:
    return " ".join(_WORD.findall(plain_text(text).lower()))


def repeats_first_paragraph(summary: str, body: str) -> bool:
    """The summary says again what the text's first paragraph says."""
    a, b = _normal(summary), _normal(first_paragraph(body))
    if not a or not b:
        return False
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.9


def links(markdown: str) -> list[str]:
    """Every link and image address of some Markdown."""
    found: list[str] = []

    def walk(tokens) -> None:
        for token in tokens:
            if token.type == "link_open":
                found.append(str(token.attrGet("href") or ""))
            elif token.type == "image":
                found.append(str(token.attrGet("src") or ""))
            if token.children:
                walk(token.children)

    walk(_markdown.parse(markdown))
    # Markdown drops links whose scheme it refuses (javascript:, data:): the reader then
    # sees the bare brackets, so they count too.
    for address in re.findall(r"\]\(\s*([^)\s]+)", markdown):
        if address not in found:
            found.append(address)
    return found


def lix(markdown: str) -> int | None:
    """LIX (läsbarhetsindex): words per sentence plus the percentage of words over six
    letters. None for a text too short to measure."""
    text = plain_text(markdown)
    words = _WORD.findall(text)
    if len(words) < 10:
        return None
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    long_words = sum(1 for word in words if len(word) > 6)
    return round(len(words) / sentences + 100 * long_words / len(words))


def lix_meaning(value: int) -> str:
    """How hard a LIX value reads, in the usual Swedish bands."""
    if value < 25:
        return "mycket lättläst"
    if value < 30:
        return "lättläst"
    if value < 40:
        return "medelsvår, som en vanlig tidningstext"
    if value < 50:
        return "svår, som en myndighetstext"
    return "mycket svår"


def advise(*, title: str, summary: str, body: str) -> list[Advice]:
    """Everything worth a second look before the item goes out."""
    advice: list[Advice] = []
    if len(title.strip()) > TITLE_ADVICE_LENGTH:
        advice.append(
            Advice(
                "rubrik",
                f"Rubriken har {len(title.strip())} tecken. Över {TITLE_ADVICE_LENGTH} tecken "
                "blir den svår att läsa i listor, flöden och mejl.",
            )
        )
    if repeats_first_paragraph(summary, body):
        advice.append(
            Advice(
                "sammanfattning",
                "Sammanfattningen upprepar textens första stycke. Skriv en egen sammanfattning "
                "eller börja texten med något nytt.",
            )
        )
    for address in links(body):
        if not re.match(r"(?i)https?://", address) and not address.lower().startswith("mailto:"):
            advice.append(
                Advice(
                    "text",
                    f"Länken ”{address or '(tom)'}” börjar inte med http:// eller https:// "
                    "och fungerar inte för läsarna. Skriv hela adressen.",
                )
            )
    value = lix(body)
    if value is not None and value >= 50:
        advice.append(
            Advice(
                "text",
                f"Texten har läsbarhetsindex (LIX) {value}: {lix_meaning(value)}. Kortare "
                "meningar och kortare ord gör den lättare att läsa.",
            )
        )
    return advice


__all__ = ["Advice", "advise", "links", "lix", "lix_meaning", "repeats_first_paragraph"]
