"""Search speed: `service.search` (what `/sok/` and `/api/v1/search` run, without HTTP) over
a mix of Swedish queries, after the index is refilled from the archive."""

from __future__ import annotations

import random
import statistics
import time

# Broad ("upphandling" is in most sample items, so in most of a generated archive), precise,
# phrases, exclusions, misspellings (no hits: the "Menade du" path), each also with a filter.
QUERIES = (
    "upphandling",
    "hållbara upphandlingar",
    "handskar malaysia",
    '"due diligence"',
    "tvångsarbete -kina",
    "textilier",
    "läkemedel vägledning",
    "hållbarhet",
    "kyckling uppföljning",
    "norsk delegation",
    "handskr",
    "inkontinensprodukter miljökrav",
)
FILTERS = (
    {},
    {"region": "region-skane"},
    {"topic": "manskliga-rattigheter"},
    {"year": None},  # the newest item's year, filled in below
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(rounds: int = 8) -> dict:
    from sqlalchemy import func, select

    from services.search import index, service
    from services.search.filters import Filters
    from shared.db import session_scope, utcnow
    from shared.models import Item

    began = time.perf_counter()
    with session_scope() as session:
        documents = index.reindex(session=session)
    reindex_s = time.perf_counter() - began
    with session_scope() as session:
        newest = session.scalar(select(func.max(Item.published_at)))
    cases = [
        (text, Filters(**{**f, "year": newest.year} if "year" in f else f))
        for text in QUERIES
        for f in FILTERS
    ]
    rng = random.Random(5)
    samples: list[float] = []
    per_query: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    for number in range(rounds + 1):
        rng.shuffle(cases)
        for text, filters in cases:
            start = time.perf_counter()
            with session_scope() as session:
                results = service.search(session=session, text=text, filters=filters, now=utcnow())
            elapsed = (time.perf_counter() - start) * 1000
            if number:  # the first round warms caches
                samples.append(elapsed)
                per_query.setdefault(text, []).append(elapsed)
                hits[text] = max(hits.get(text, 0), results.total)
    return {
        "documents": documents,
        "reindex_s": reindex_s,
        "searches": len(samples),
        "p50_ms": statistics.median(samples),
        "p99_ms": _percentile(samples, 0.99),
        "max_ms": max(samples),
        "per_query_p50_ms": {k: statistics.median(v) for k, v in per_query.items()},
        "per_query_max_ms": {k: max(v) for k, v in per_query.items()},
        "hits": hits,
    }
