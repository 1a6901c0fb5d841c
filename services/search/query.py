"""The reader's query: words, "phrases in quotes" and -excluded words, checked and stemmed.

What a reader types never reaches a database as query syntax: it is cut into words here
(letters and digits only), and each backend builds its own query from those words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.search import swedish

MAX_LENGTH = 200  # characters; a longer query is almost always pasted text, not a search
MAX_TERMS = 12
# Words at least this long also find the compounds and forms that begin with their stem
# ("hållbarhet" finds "hållbarhetskrav"); shorter ones ("EU", "får") only themselves.
PREFIX_FROM = 4
QUOTES = str.maketrans({"”": '"', "“": '"', "„": '"', "«": '"', "»": '"', "″": '"'})
DASHES = "-–—−"  # hyphen-minus, en and em dash, minus sign: all exclude a word
_PART = re.compile(r"\s*([" + DASHES + r']?)(?:"([^"]*)"?|([^\s"]+))')


class QueryError(ValueError):
    """A query that cannot be searched; the message says why, in Swedish."""


@dataclass(frozen=True)
class Term:
    """A word or a phrase the results must (or, when `excluded`, must not) contain."""

    words: tuple[str, ...]
    excluded: bool = False
    exact: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    @property
    def prefix(self) -> str | None:
        """The stem a single word is matched as a prefix of, or None for an exact match.

        Stemmed twice: Snowball stems "hållbara" to "hållbar" but "hållbar" to "hållb", so the
        second pass finds the shorter stem every form of the word shares.
        """
        if self.is_phrase or self.excluded or self.exact or len(self.words[0]) < PREFIX_FROM:
            return None
        if not self.words[0].isalpha():
            return None
        twice = swedish.stem(swedish.stem(self.words[0]))
        return twice if len(twice) >= 3 else None


@dataclass(frozen=True)
class Query:
    """A parsed query: what the reader typed and the terms found in it."""

    text: str
    terms: tuple[Term, ...]

    @property
    def included(self) -> tuple[Term, ...]:
        return tuple(term for term in self.terms if not term.excluded)

    @property
    def excluded(self) -> tuple[Term, ...]:
        return tuple(term for term in self.terms if term.excluded)

    def highlight_stems(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """Stems to mark in a text exactly, and stems whose extensions are marked too."""
        exact, prefixes = set(), []
        for term in self.included:
            if term.prefix:
                prefixes.append(term.prefix)
            exact.update(swedish.stem(word) for word in term.words if word not in swedish.STOPWORDS)
        return frozenset(exact), tuple(prefixes)


def parse(text: str | None) -> Query:
    """The terms of a reader's query; QueryError (in Swedish) when nothing can be searched."""
    text = swedish.normalize(text or "").translate(QUOTES).strip()
    if not text:
        raise QueryError("Skriv ett eller flera ord att söka efter.")
    if len(text) > MAX_LENGTH:
        raise QueryError(
            f"Sökfrågan är för lång ({len(text)} tecken). Skriv högst {MAX_LENGTH} tecken."
        )
    terms: list[Term] = []
    for match in _PART.finditer(text):
        minus, quoted, bare = match.groups()
        words = tuple(swedish.words(quoted if quoted is not None else bare))
        if all(word in swedish.STOPWORDS for word in words):
            continue  # nothing, or only words like "och" that would find nearly everything
        # A quoted word is matched exactly; a typed word of several ("e-post", "2.0") is a
        # phrase, as in the text it came from.
        terms.append(Term(words, excluded=bool(minus), exact=quoted is not None))
    unique = tuple(dict.fromkeys(terms))
    if not unique:
        raise QueryError(
            "Sökfrågan innehåller inga ord att söka efter. Skriv till exempel ett ämne, "
            "en plats eller ett namn; mycket vanliga ord som ”och” och ”att” räknas inte."
        )
    if len(unique) > MAX_TERMS:
        raise QueryError(f"Sökfrågan har för många ord. Använd högst {MAX_TERMS}.")
    if not any(not term.excluded for term in unique):
        raise QueryError(
            "Skriv minst ett ord att söka efter, inte bara ord att utesluta med minustecken."
        )
    return Query(text=text, terms=unique)
