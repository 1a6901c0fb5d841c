"""Readable differences between two versions of an item, line by line (difflib)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from shared import taxonomy

LABELS = (
    ("title", "Rubrik"),
    ("summary", "Sammanfattning"),
    ("body", "Text"),
    ("regions", "Regioner"),
    ("topics", "Ämnen"),
    ("when", "Publiceringstid"),
    ("status", "Status"),
)


@dataclass(frozen=True)
class Line:
    kind: str  # "same", "removed" or "added"
    text: str


@dataclass(frozen=True)
class FieldDiff:
    label: str
    lines: list[Line]


def version_fields(
    *,
    title: str,
    summary: str,
    body: str,
    regions: list[str],
    topics: list[str],
    when: str,
    status: str,
) -> dict[str, list[str]]:
    """A version's fields as lines of text, the shape `compare` takes."""
    region_names, topic_names = taxonomy.regions(), taxonomy.topics()
    return {
        "title": [title],
        "summary": summary.splitlines() or [""],
        "body": body.splitlines() or [""],
        "regions": [region_names.get(slug, slug) for slug in regions],
        "topics": [topic_names.get(slug, slug) for slug in topics],
        "when": [when],
        "status": [status],
    }


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[FieldDiff]:
    """What changed from `old` to `new`, field by field; unchanged fields are left out."""
    changed = []
    for key, label in LABELS:
        before, after = old.get(key, []), new.get(key, [])
        if before == after:
            continue
        lines = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after).get_opcodes():
            if tag == "equal":
                lines += [Line("same", text) for text in before[i1:i2]]
                continue
            lines += [Line("removed", text) for text in before[i1:i2]]
            lines += [Line("added", text) for text in after[j1:j2]]
        changed.append(FieldDiff(label, lines))
    return changed


__all__ = ["FieldDiff", "Line", "compare", "version_fields"]
