"""Swedish words: how text is cut into words, which words are too common to search for, and
their stems (Snowball, the algorithm PostgreSQL's `swedish` configuration uses)."""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from html.parser import HTMLParser

import Stemmer

# Letters and digits; everything else separates words. The same cut on both databases: the
# text PostgreSQL parses and the text SQLite's FTS5 indexes are these words joined by spaces,
# so "2.0" or "due-diligence" is two words everywhere and a phrase finds them.
WORD = re.compile(r"[^\W_]+")
# A longer "word" is noise (a hash, a pasted URL part); PostgreSQL would drop it anyway.
MAX_WORD = 60
# PostgreSQL's swedish.stop (the Snowball project's list): what `to_tsvector('swedish', …)`
# leaves out, left out of queries here too so both databases treat them alike.
STOPWORDS = frozenset(
    """och det att i en jag hon som han på den med var sig för så till är men ett om hade de
    av icke mig du henne då sin nu har inte hans honom skulle hennes där min man ej vid kunde
    något från ut när efter upp vi dem vara vad över än dig kan sina här ha mot alla under
    någon eller allt mycket sedan ju denna själv detta åt utan varit hur ingen mitt ni bli
    blev oss din dessa några deras blir mina samma vilken er sådan vår blivit dess inom
    mellan sådant varför varje vilka ditt vem vilket sitta sådana vart dina vars vårt våra
    ert era vilkas""".split()
)

_local = threading.local()


def normalize(text: str) -> str:
    """One spelling of each letter (NFC: "å" typed as a + ring is "å"), control characters
    as spaces."""
    text = unicodedata.normalize("NFC", text)
    return "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)


def words(text: str) -> list[str]:
    """The words of `text`, lower-case, in order (å, ä and ö stay what they are)."""
    return [word for word in WORD.findall(text.lower()) if len(word) <= MAX_WORD]


def _stemmer() -> Stemmer.Stemmer:
    # A PyStemmer object must not be shared between threads (the embedded worker has several);
    # each keeps a cache of the 50,000 words it stemmed last.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("swedish", 50_000)
    return stemmer


def stem(word: str) -> str:
    """The Snowball stem of a lower-case word: "upphandlingar" -> "upphandling"."""
    return _stemmer().stemWord(word)


def stem_all(words: list[str]) -> list[str]:
    """The stems of lower-case words, in order; a word longer than MAX_WORD stays itself."""
    stemmed = _stemmer().stemWords([word for word in words if len(word) <= MAX_WORD])
    if len(stemmed) == len(words):
        return stemmed
    short = iter(stemmed)
    return [next(short) if len(word) <= MAX_WORD else word for word in words]


def stems(text: str) -> str:
    """`text` as its stems joined by spaces: what SQLite's FTS5 table holds."""
    return " ".join(_stemmer().stemWords(words(text)))


class _Text(HTMLParser):
    BLOCKS = {"p", "li", "br", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "pre", "div"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" {alt} ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(body_html: str) -> str:
    """The readable text of an item's (sanitized) HTML body, paragraphs on lines of their own."""
    parser = _Text()
    parser.feed(body_html)
    parser.close()
    text = html.unescape("".join(parser.parts))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return normalize("\n".join(line for line in lines if line))
