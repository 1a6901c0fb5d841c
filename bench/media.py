"""Media (issue 15): a 12-megapixel JPEG uploaded to the real ingest server (uvicorn,
PostgreSQL), timed from the request to its 201, which follows the commit of the sanitized
original and every variant; the 960 px AVIF's bytes; peak memory of the server, and of the
processing alone in a process of its own; then render writing the last upload's files from
the database into an empty site folder (what its `media.uploaded` event does), so upload to
published is the upload's time plus this:

    python -m bench.media process FILE N     (the child; its last stdout line is JSON)
    python -m bench.media publish SITE_DIR   (the child: the newest medium's files written)
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path

WIDTH, HEIGHT = 4000, 3000  # 12 megapixels, as a phone camera


def photo_jpeg() -> bytes:
    """A 12-megapixel photo-like JPEG at quality 90 (about 5 MB, as a phone writes)."""
    from tests.media_samples import encode, photo

    return encode(photo(WIDTH, HEIGHT, seed=12), "JPEG", quality=90)


def distinct(data: bytes, n: int) -> bytes:
    """The same JPEG with a comment segment of its own: other content (so not found as
    already stored), the same pixels (the comment is dropped with the metadata)."""
    comment = f"bench upload {n}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def _peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def process(path: str, count: int) -> dict:
    """Child: `images.process` on the file `count` times (what an upload's thread does)."""
    from services.ingest import images

    data = Path(path).read_bytes()
    baseline = _peak_kb()
    walls, cpus, digests, sizes = [], [], set(), {}
    for _ in range(count):
        began, began_cpu = time.perf_counter(), time.process_time()
        files = images.process(io.BytesIO(data), "JPEG")
        walls.append((time.perf_counter() - began) * 1000)
        cpus.append((time.process_time() - began_cpu) * 1000)
        digests.add(hashlib.sha256(b"".join(f.data for f in files)).hexdigest())
        sizes = {f.variant: len(f.data) for f in files}
    return {
        "wall_ms": walls,
        "cpu_ms": cpus,
        "variant_bytes": sizes,
        "same_bytes_every_run": len(digests) == 1,
        "baseline_kb": baseline,
        "maxrss_kb": _peak_kb(),
    }


def publish(site_dir: str) -> dict:
    """Child: render writes the newest medium's files (every variant) into `site_dir`."""
    from sqlalchemy import select

    from services.render import media_files
    from services.render.output import SiteOutput
    from shared.db import session_scope
    from shared.models import Media

    with session_scope() as session:
        newest = session.scalars(select(Media.id).order_by(Media.created_at.desc())).first()
        began = time.perf_counter()
        written = media_files.publish(
            session=session, output=SiteOutput(Path(site_dir)), media_ids=[newest]
        )
        took = (time.perf_counter() - began) * 1000
    return {"publish_ms": took, "files_written": written}


def scenario(bench, pg) -> None:
    """Processing alone in a child process, then uploads through the ingest server."""
    import httpx

    from bench.common import cpu_seconds, peak_rss_kb, pg_connect, run_json, summary
    from tests.media_samples import encode, marked

    count = 3 if bench.args.quick else 10
    data = photo_jpeg()
    path = bench.work / "photo-12mp.jpg"
    path.write_bytes(data)
    bench.log(f"media: 12 MP JPEG of {len(data) / 1e6:.1f} MB")
    with pg.database() as url:
        env = bench.env(url, bench.work / "site-media")
        bench.prepare(env, 0)
        alone = run_json([sys.executable, "-m", "bench.media", "process", str(path), "5"], env)
        token = bench.contributors(1)[0]
        headers = {"Authorization": f"Bearer {token}"}
        with bench.processes(env) as procs:
            base = procs.uvicorn("ingest", "services.ingest.api:create_app")
            server = procs.children[-1][1].pid
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                # A small image first: connections and code paths warm, memory still idle.
                warm = {"file": ("varm.jpg", encode(marked(), "JPEG"), "image/jpeg")}
                assert client.post("/api/v1/media", files=warm).status_code == 201
                idle_kb = peak_rss_kb(server)
                cpu_before = cpu_seconds(server)
                times = []
                for n in range(count):
                    body = {"file": ("foto.jpg", distinct(data, n), "image/jpeg")}
                    began = time.perf_counter()
                    response = client.post("/api/v1/media", files=body)
                    times.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 201, response.text
                cpu = cpu_seconds(server) - cpu_before
                server_kb = peak_rss_kb(server)
        published = [
            run_json(
                [sys.executable, "-m", "bench.media", "publish", str(bench.work / f"pub-{n}")], env
            )
            for n in range(3)
        ]
        with pg_connect(url) as conn:
            avif = conn.execute(
                "SELECT min(size), max(size) FROM media_files WHERE variant = 'avif-960'"
            ).fetchone()
            stored = conn.execute(
                "SELECT count(*), sum(media_files.size) FROM media_files"
                " JOIN media ON media.id = media_id"
                " WHERE media.name = 'foto.jpg'"
            ).fetchone()
    result = {
        "photo_bytes": len(data),
        "uploads": count,
        "upload_ms": summary(times),
        "server_cpu_ms_per_upload": 1000 * cpu / count,
        "server_peak_rss_kb": server_kb,
        "server_peak_rss_before_kb": idle_kb,
        "avif_960_bytes": avif[1],
        "stored_files": stored[0],
        "stored_bytes_per_upload": int(stored[1]) // count,
        "publish_ms": summary([run["publish_ms"] for run in published]),
        "published_files": published[0]["files_written"],
        "processing_alone": {
            **alone,
            "wall_ms": summary(alone["wall_ms"]),
            "cpu_ms": summary(alone["cpu_ms"]),
        },
    }
    bench.raw["media"] = result
    bench.log(
        f"media: upload p50 {result['upload_ms']['p50']:.0f} ms + publish p50 "
        f"{result['publish_ms']['p50']:.0f} ms ({result['published_files']} files), server CPU "
        f"{result['server_cpu_ms_per_upload']:.0f} ms, AVIF 960 {avif[1]} bytes, server peak "
        f"{server_kb // 1024} MiB, processing alone peak {alone['maxrss_kb'] // 1024} MiB"
    )


def main() -> None:
    if sys.argv[1] == "process":
        print(json.dumps(process(sys.argv[2], int(sys.argv[3]))))
    elif sys.argv[1] == "publish":
        print(json.dumps(publish(sys.argv[2])))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
