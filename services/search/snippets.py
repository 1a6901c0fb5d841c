"""Highlighted text: everything escaped first, then the words the query found marked."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from services.search import swedish

CONTEXT_WORDS = 32  # words in a snippet


class Marker:
    """Finds the words a query matched in a text: by stem, or by the start of a stem."""

    def __init__(self, exact: frozenset[str], prefixes: tuple[str, ...]) -> None:
        self.exact = exact
        self.prefixes = prefixes

    def hits(self, text: str) -> list[tuple[int, int, bool]]:
        """(start, end, matched) of every word of `text`."""
        matches = list(swedish.WORD.finditer(text))
        # One call stems them all (a snippet's text has hundreds of words).
        stems = swedish.stem_all([match.group().lower() for match in matches])
        return [
            (match.start(), match.end(), stem in self.exact or stem.startswith(self.prefixes))
            for match, stem in zip(matches, stems, strict=True)
        ]

    def mark(self, text: str) -> Markup:
        """All of `text`, escaped, with the matched words in <mark>."""
        return _marked(text, self.hits(text), 0, len(text))

    def snippet(self, *texts: str) -> Markup:
        """The passage of the first text with a matched word (else the start of the first):
        about CONTEXT_WORDS words around the most matches, "…" where it was cut."""
        for text in texts:
            hits = self.hits(text)
            if any(hit for _, _, hit in hits):
                return _window(text, hits)
        text = next((text for text in texts if text), "")
        return _window(text, self.hits(text))


def _window(text: str, hits: list[tuple[int, int, bool]]) -> Markup:
    if len(hits) <= CONTEXT_WORDS:
        return _marked(text, hits, 0, len(text))
    flags = [hit for _, _, hit in hits]
    best, best_count = 0, -1
    count = sum(flags[:CONTEXT_WORDS])
    for start in range(len(hits) - CONTEXT_WORDS + 1):
        if start:
            count += flags[start + CONTEXT_WORDS - 1] - flags[start - 1]
        if count > best_count:
            best, best_count = start, count
    # Two words of context before the first match, when the window starts with one.
    first = next((n for n in range(best, best + CONTEXT_WORDS) if flags[n]), best)
    best = max(0, min(best, first - 2))
    last = min(len(hits), best + CONTEXT_WORDS) - 1
    begin = hits[best][0] if best else 0
    end = hits[last][1] if last < len(hits) - 1 else len(text)
    marked = _marked(text, hits[best : last + 1], begin, end)
    return Markup(f"{'… ' if begin else ''}{marked}{' …' if end < len(text) else ''}")


def _marked(text: str, hits: list[tuple[int, int, bool]], begin: int, end: int) -> Markup:
    # html.escape on whole stretches, not markupsafe per word: a snippet costs microseconds.
    parts: list[str] = []
    position = begin
    for start, stop, hit in hits:
        if not hit or start < begin or stop > end:
            continue
        parts.append(escape(text[position:start]))
        parts.append(f"<mark>{escape(text[start:stop])}</mark>")
        position = stop
    parts.append(escape(text[position:end]))
    return Markup("".join(parts))
