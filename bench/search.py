"""Search speed: `service.search` (what `/sok/` and `/api/v1/search` run, without HTTP) over
a mix of Swedish queries, after the index is refilled from the archive."""

from __future__ import annotations

import os
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine (a PostgreSQL backend)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(rounds: int = 8) -> dict:
    from sqlalchemy import func, select, text

    from services.search import api, index, service
    from services.search.filters import Filters
    from shared.db import session_scope, utcnow
    from shared.models import Item

    # The searches run in a process set up as the search service's is: its app built first,
    # which freezes the heap the process starts with (shared/heap.py).
    api.create_app()
    began = time.perf_counter()
    with session_scope() as session:
        documents = index.reindex(session=session)
    reindex_s = time.perf_counter() - began
    with session_scope() as session:
        newest = session.scalar(select(func.max(Item.published_at)))
    cases = [
        (words, Filters(**{**f, "year": newest.year} if "year" in f else f))
        for words in QUERIES
        for f in FILTERS
    ]
    rng = random.Random(5)
    samples: list[float] = []
    per_query: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    # CPU per search, ours and the database server's: a figure a busy machine changes less
    # than the wall-clock percentiles.
    backends: dict[int, float] = {}
    cpu = 0.0
    for number in range(rounds + 1):
        if number == 1:  # the first round warms caches and is not counted
            backends = {pid: _cpu_seconds(pid) for pid in backends}
        rng.shuffle(cases)
        for words, filters in cases:
            start, own = time.perf_counter(), time.process_time()
            with session_scope() as session:
                results = service.search(session=session, text=words, filters=filters, now=utcnow())
            elapsed = (time.perf_counter() - start) * 1000
            spent = time.process_time() - own
            with session_scope() as session:  # the same pooled connection, as a rule
                if session.get_bind().dialect.name == "postgresql":
                    pid = session.scalar(text("SELECT pg_backend_pid()"))
                    backends.setdefault(pid, _cpu_seconds(pid))
            if number:
                samples.append(elapsed)
                cpu += spent
                per_query.setdefault(words, []).append(elapsed)
                hits[words] = max(hits.get(words, 0), results.total)
    server = sum(_cpu_seconds(pid) - before for pid, before in backends.items())
    return {
        "documents": documents,
        "reindex_s": reindex_s,
        "searches": len(samples),
        "p50_ms": statistics.median(samples),
        "p99_ms": _percentile(samples, 0.99),
        "max_ms": max(samples),
        "cpu_ms_per_search": 1000 * (cpu + server) / len(samples),
        "client_cpu_ms_per_search": 1000 * cpu / len(samples),
        "per_query_p50_ms": {k: statistics.median(v) for k, v in per_query.items()},
        "per_query_max_ms": {k: max(v) for k, v in per_query.items()},
        "hits": hits,
    }
