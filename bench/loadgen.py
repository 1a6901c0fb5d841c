"""The load generator: a separate process from the code under test, plain asyncio sockets
(keep-alive HTTP/1.1, pre-serialised bodies) so that the client costs far less CPU than the
server it measures.

    python -m bench.loadgen CONFIG.json   (prints one JSON line of results)

Modes: "rate" (open loop at a fixed offered load; latency counted from each request's
scheduled time, so a stalled server cannot hide queueing), "max" (closed loop, N connections
as fast as answered), "publish" (one POST at a time, then watch the site folder until the
item page, /aktuellt/ and the three site feeds show it) and "burst" (N posts as fast as they
are accepted, then watch the site folder until the last one is shown and every item has its
page).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
ITEMS = "/api/v1/items"


def bodies(count: int, offset: int) -> list[bytes]:
    """Item bodies from the sample items, each with a title of its own."""
    from importlib.resources import files

    samples = json.loads((files("shared") / "data" / "sample_items.json").read_text("utf-8"))
    out = []
    for n in range(offset, offset + count):
        tmpl = samples["items"][n % len(samples["items"])]
        out.append(
            json.dumps(
                {
                    "title": f"Nr {n}: {tmpl['title']}",
                    "summary": tmpl["summary"],
                    "body": tmpl["body"],
                    "regions": tmpl["regions"],
                    "topics": tmpl.get("topics", []),
                    "author": {"name": "Åsa Öberg", "email": "asa.oberg@region.example.se"},
                },
                ensure_ascii=False,
            ).encode()
        )
    return out


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        match = CONTENT_LENGTH.search(head)
        body = await self.reader.readexactly(int(match.group(1))) if match else b""
        if b"connection: close" in head.lower():
            self.writer.close()
            self.writer = None
        return status, body


def post_request(host: str, body: bytes, token: str) -> bytes:
    return (
        f"POST {ITEMS} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def run_rate(cfg: dict) -> dict:
    """Open loop: request i is due at start + i/rate, whatever happened to the others."""
    url = urlsplit(cfg["url"])
    rate, seconds = cfg["rate"], cfg["seconds"]
    total = int(rate * seconds)
    tokens = cfg["tokens"]
    payloads = [
        post_request(url.netloc, b, tokens[i % len(tokens)])
        for i, b in enumerate(bodies(total, cfg.get("offset", 0)))
    ]
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(cfg.get("connections", 64)):
        pool.put_nowait(Connection(url.hostname, url.port))
    latencies, service, statuses = [], [], {}

    async def one(i: int, due: float) -> None:
        conn = await pool.get()
        sent = time.perf_counter()
        try:
            status, _ = await conn.request(payloads[i])
        except (OSError, asyncio.IncompleteReadError):
            status, conn.writer = 0, None
        done = time.perf_counter()
        pool.put_nowait(conn)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 201:
            latencies.append((done - due) * 1000)
            service.append((done - sent) * 1000)

    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return {
        "mode": "rate",
        "offered_per_s": rate,
        "requests": total,
        "statuses": statuses,
        "elapsed_s": elapsed,
        "accepted_per_s": statuses.get(201, 0) / elapsed,
        "latency_ms": latencies,
        "service_ms": service,
    }


async def run_max(cfg: dict) -> dict:
    """Closed loop: `connections` clients, each posting as soon as its last answer came."""
    url = urlsplit(cfg["url"])
    seconds, conns = cfg["seconds"], cfg.get("connections", 32)
    tokens = cfg["tokens"]
    payloads = [
        post_request(url.netloc, b, tokens[i % len(tokens)])
        for i, b in enumerate(bodies(cfg.get("max_requests", 20000), cfg.get("offset", 0)))
    ]
    counter = iter(range(len(payloads)))
    latencies, statuses = [], {}
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> None:
        conn = Connection(url.hostname, url.port)
        while time.perf_counter() < deadline:
            i = next(counter, None)
            if i is None:
                return
            sent = time.perf_counter()
            try:
                status, _ = await conn.request(payloads[i])
            except (OSError, asyncio.IncompleteReadError):
                status, conn.writer = 0, None
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201:
                latencies.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(client() for _ in range(conns)))
    elapsed = time.perf_counter() - start
    return {
        "mode": "max",
        "connections": conns,
        "statuses": statuses,
        "elapsed_s": elapsed,
        "accepted_per_s": statuses.get(201, 0) / elapsed,
        "latency_ms": latencies,
    }


def _watch(site: Path, targets: dict[str, bytes], started: float, timeout: float) -> dict:
    """Poll until each file contains its marker; return ms from `started` per file."""
    found: dict[str, float] = {}
    seen: dict[str, int] = {}
    deadline = time.perf_counter() + timeout
    while len(found) < len(targets) and time.perf_counter() < deadline:
        for name, marker in targets.items():
            if name in found:
                continue
            path = site / name
            try:
                mtime = os.stat(path).st_mtime_ns
            except FileNotFoundError:
                continue
            if seen.get(name) == mtime:
                continue
            seen[name] = mtime
            try:
                if marker in path.read_bytes():
                    found[name] = (time.perf_counter() - started) * 1000
            except FileNotFoundError:
                continue
        time.sleep(0.0005)
    return found


async def run_publish(cfg: dict) -> dict:
    url = urlsplit(cfg["url"])
    site = Path(cfg["site_dir"])
    conn = Connection(url.hostname, url.port)
    payloads = bodies(cfg["warmup"] + cfg["count"], cfg.get("offset", 0))
    samples, warm = [], []
    for n, body in enumerate(payloads):
        sent = time.perf_counter()
        status, answer = await conn.request(post_request(url.netloc, body, cfg["tokens"][0]))
        accepted = time.perf_counter()
        if status != 201:
            raise RuntimeError(f"POST answered {status}: {answer[:300]!r}")
        item = json.loads(answer)
        item_page = item["path"].lstrip("/") + "index.html"
        marker_id = f"urn:uuid:{item['id']}".encode()
        targets = {
            item_page: item["title"].encode(),
            "aktuellt/index.html": item["path"].encode(),
            "rss.xml": marker_id,
            "atom.xml": marker_id,
            "feed.json": marker_id,
        }
        found = _watch(site, targets, accepted, cfg.get("timeout", 30))
        if len(found) < len(targets):
            raise RuntimeError(f"not on disk within the timeout: {set(targets) - set(found)}")
        record = {
            "post_ms": (accepted - sent) * 1000,
            "all_ms": max(found.values()),
            "item_ms": found[item_page],
            "latest_ms": found["aktuellt/index.html"],
            "feeds_ms": max(found["rss.xml"], found["atom.xml"], found["feed.json"]),
        }
        (warm if n < cfg["warmup"] else samples).append(record)
        # Let the event's remaining pages (neighbours, tags, months) finish before the next.
        await asyncio.sleep(max(cfg.get("gap", 0.3), record["all_ms"] / 1000))
    return {"mode": "publish", "samples": samples, "warmup": len(warm)}


def _shown(item: dict) -> dict[str, bytes]:
    """The files that show a new item, each with what marks it there."""
    marker_id = f"urn:uuid:{item['id']}".encode()
    return {
        item["path"].lstrip("/") + "index.html": item["title"].encode(),
        "aktuellt/index.html": item["path"].encode(),
        "rss.xml": marker_id,
        "atom.xml": marker_id,
        "feed.json": marker_id,
    }


async def run_burst(cfg: dict) -> dict:
    """`count` posts on `connections` keep-alive connections as fast as they are accepted;
    then the time from the last 201 until the newest item is on its page, /aktuellt/ and the
    three site feeds, and until every posted item has its page."""
    url = urlsplit(cfg["url"])
    site = Path(cfg["site_dir"])
    tokens = cfg["tokens"]
    payloads = [
        post_request(url.netloc, b, tokens[i % len(tokens)])
        for i, b in enumerate(bodies(cfg["count"], cfg.get("offset", 0)))
    ]
    counter = iter(range(len(payloads)))
    accepted: list[tuple[float, dict]] = []
    statuses: dict[int, int] = {}
    began = time.perf_counter()

    async def client() -> None:
        conn = Connection(url.hostname, url.port)
        while (i := next(counter, None)) is not None:
            try:
                status, answer = await conn.request(payloads[i])
            except (OSError, asyncio.IncompleteReadError):
                status, answer, conn.writer = 0, b"", None
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201:
                accepted.append((time.perf_counter(), json.loads(answer)))

    await asyncio.gather(*(client() for _ in range(cfg.get("connections", 16))))
    # The newest item: at the top of /aktuellt/ and the feeds once the burst is rendered (the
    # one answered last may have been published earlier, by a request that waited longer).
    last_201 = max(at for at, _ in accepted)
    _, last = max(
        accepted,
        key=lambda pair: (datetime.fromisoformat(pair[1]["published_at"]), pair[1]["id"]),
    )
    posting_s = last_201 - began
    timeout = cfg.get("timeout", 600)
    found = _watch(site, _shown(last), last_201, timeout)
    visible_ms = max(found.values()) if len(found) == len(_shown(last)) else None
    # Every item page: stat only (a page is written whole, by rename).
    pages = {item["path"].lstrip("/") + "index.html" for _, item in accepted}
    deadline = last_201 + timeout
    while pages and time.perf_counter() < deadline:
        pages = {page for page in pages if not (site / page).exists()}
        if pages:
            time.sleep(0.01)
    return {
        "mode": "burst",
        "statuses": statuses,
        "accepted": len(accepted),
        "posting_s": posting_s,
        "accepted_per_s": len(accepted) / posting_s,
        "last_visible_ms": visible_ms,
        "last_visible_parts_ms": found,
        "all_pages_ms": None if pages else (time.perf_counter() - last_201) * 1000,
        "missing_pages": len(pages),
    }


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text())
    runner = {"rate": run_rate, "max": run_max, "publish": run_publish, "burst": run_burst}[
        cfg["mode"]
    ]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    emit(asyncio.run(runner(cfg)))


def emit(result: dict) -> None:
    """The result as one line on stdout. Written in a loop: once uvloop has run, a write to a
    full pipe can return after 64 KiB, and `print` would drop the rest."""
    view = memoryview((json.dumps(result) + "\n").encode())
    while view:
        view = view[os.write(sys.stdout.fileno(), view) :]


if __name__ == "__main__":
    main()
