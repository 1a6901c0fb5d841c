"""`make bench`: every speed and memory promise of Newsroom, measured on this machine.

    .venv/bin/python -m bench.run [--quick] [--big 100000] [--only ingest,publish,...]

Distributed mode: a PostgreSQL database of its own, Redis database 14, uvicorn and Celery
worker processes, a separate load-generator process; the embedded mode (SQLite, in-process
broker and worker) where it is cheap. Writes bench/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import archive, burst, media, profiles
from bench.common import (
    BIN,
    ROOT,
    Processes,
    apply_env,
    base_env,
    children_of,
    cpu_seconds,
    flush_redis,
    free_port,
    peak_rss_kb,
    pg_connect,
    redis_url,
    run_json,
    smtp_sink_binary,
    summary,
    wait_for_port,
)

RESULTS = ROOT / "bench" / "results"
PROFILES = RESULTS / "profiles"
PY = str(BIN / "python")
SCENARIOS = (
    "publish",
    "burst",
    "ingest",
    "rebuild",
    "feeds",
    "newsletter",
    "media",
    "embedded",
    "search",
)


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="newsroom-bench-"))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.raw: dict = {}
        self.notes: list[str] = []
        self.started = time.monotonic()
        self.smtp_sink = "none"
        self.load_before = os.getloadavg()

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f} s] {message}", flush=True)

    # --- helpers ------------------------------------------------------------------------

    def attempt(self, fn, *args, **kwargs):
        """Run one scenario; a failure is recorded with the results and the run goes on."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the services change under us; measure what still works
            name = getattr(fn, "__name__", str(fn))
            self.log(f"FAILED {name}{args[:2]!r}: {exc!r}"[:3000])
            self.raw.setdefault("errors", []).append(
                {"scenario": name, "args": repr(args[:2]), "error": repr(exc)[-3000:]}
            )
            self.notes.append(f"{name} {args[:2]!r} failed: {repr(exc)[:300]}")
            return None

    def env(self, database_url: str, site: Path, smtp_url: str = "file:/dev/null") -> dict:
        return base_env(
            database_url=database_url, broker_url=redis_url(), site_dir=site, smtp_url=smtp_url
        )

    def prepare(self, env: dict, items: int) -> None:
        """Migrate, load `items` archive items, and create contributors."""
        from shared.migrate import upgrade

        apply_env(env)
        upgrade(env["NEWSROOM_DATABASE_URL"])
        began = time.perf_counter()
        if items:
            archive.load(
                env["NEWSROOM_DATABASE_URL"], items, end=datetime.now(UTC) - timedelta(minutes=5)
            )
        self.log(f"archive of {items} items loaded in {time.perf_counter() - began:.1f} s")

    def contributors(self, count: int) -> list[str]:
        from services.ingest.contributors import add_contributor
        from shared.db import session_scope

        tokens = []
        with session_scope() as session:
            for n in range(count):
                tokens.append(
                    add_contributor(
                        session=session,
                        name=f"Bänk {uuid.uuid4().hex[:8]} {n}",
                        region="region-skane",
                        role="editor",
                    )
                )
        return tokens

    def rebuild(self, env: dict, label: str) -> dict:
        self.log(f"rebuild ({label}) ...")
        result = run_json([PY, "-m", "bench.child", "rebuild"], env, timeout=1200)
        self.log(
            f"rebuild ({label}): {result['html_pages_written']} pages in "
            f"{result['seconds']:.1f} s = {result['pages_per_s']:.0f} pages/s, "
            f"peak RSS {result['maxrss_kb'] / 1024:.0f} MiB"
        )
        self.raw[f"rebuild_{label}"] = result
        return result

    def loadgen(self, env: dict, cfg: dict, name: str) -> dict:
        path = self.work / f"{name}.json"
        path.write_text(json.dumps(cfg))
        timeout = cfg.get("timeout", 540) + 60
        return run_json([PY, "-m", "bench.loadgen", str(path)], env, timeout=timeout)

    @contextlib.contextmanager
    def processes(self, env: dict):
        procs = Processes(self.logs, env)
        try:
            yield procs
        finally:
            procs.stop()
            flush_redis()

    # --- scenarios ----------------------------------------------------------------------

    def publish(self, env: dict, label: str, *, embedded: bool = False) -> None:
        """POST accepted -> item page, /aktuellt/ and the site feeds on disk."""
        tokens = self.contributors(1)
        flush_redis()
        with self.processes(env) as procs:
            if embedded:
                url = procs.embedded("embedded")
            else:
                procs.celery_worker("render-worker", "services.render.tasks", "render")
                procs.celery_worker(
                    "notify-worker", "services.notify.tasks", "notify", concurrency=1
                )
                url = procs.uvicorn("ingest", "services.ingest.api:create_app")
                time.sleep(3)  # the workers connect to Redis
            count = 15 if self.args.quick else 50
            # The rebuild just wrote every page of the archive (a gigabyte at 100k) for the
            # kernel to write back: flush that first, or the posts measure its write-back.
            os.sync()
            result = self.loadgen(
                env,
                {
                    "mode": "publish",
                    "url": url,
                    "tokens": tokens,
                    "site_dir": env["NEWSROOM_SITE_DIR"],
                    "warmup": 5,
                    "count": count,
                    "gap": 0.3,
                },
                f"publish-{label}",
            )
        samples = result["samples"]
        out = {
            key: summary([s[key] for s in samples])
            for key in ("all_ms", "item_ms", "latest_ms", "feeds_ms", "post_ms")
        }
        self.raw[f"publish_{label}"] = out
        self.log(
            f"publish at {label}: p50 {out['all_ms']['p50']:.0f} ms, "
            f"p99 {out['all_ms']['p99']:.0f} ms"
        )

    def files_per_event(self, env: dict, label: str) -> None:
        apply_env(env)
        result = run_json([PY, "-m", "bench.child", "files-per-event", "10"], env)
        self.raw[f"files_{label}"] = {
            "files_changed": result["files_changed"],
            "median": statistics.median(result["files_changed"]),
            "max": max(result["files_changed"]),
            "apply_event_ms": summary(result["apply_event_ms"]),
            "apply_event_cpu_ms": summary(result["apply_event_cpu_ms"]),
        }
        self.log(f"files per published item at {label}: {result['files_changed']}")

    def ingest(self, env: dict, label: str, *, embedded: bool = False, alone: bool = False) -> None:
        """Accepted items/s (closed loop) and latency at a fixed 200 items/s (open loop).
        `alone`: the embedded app without its workers (the request path's own capacity)."""
        tokens = self.contributors(300)
        flush_redis()
        seconds = 5 if self.args.quick else 15
        with self.processes(env) as procs:
            if alone:
                url = procs.uvicorn("embedded-alone", "bench.child:embedded_alone")
            elif embedded:
                url = procs.embedded("embedded-ingest")
            else:
                url = procs.uvicorn(
                    "ingest", "services.ingest.api:create_app", workers=self.args.ingest_workers
                )
            base = {"url": url, "tokens": tokens}
            self.loadgen(
                env,
                {**base, "mode": "rate", "rate": 100, "seconds": 3, "offset": 0},
                f"ingest-warmup-{label}",
            )
            fixed = self.loadgen(
                env,
                {**base, "mode": "rate", "rate": 200, "seconds": seconds, "offset": 1000},
                f"ingest-rate-{label}",
            )
            result = {
                "fixed_200": {
                    "accepted_per_s": fixed["accepted_per_s"],
                    "statuses": fixed["statuses"],
                    "latency_ms": summary(fixed["latency_ms"]),
                    "service_ms": summary(fixed["service_ms"]),
                }
            }
            if not (embedded or alone):
                server = procs.children[0][1].pid
                cpu_before = cpu_seconds(server)
                peak = self.loadgen(
                    env,
                    {
                        **base,
                        "mode": "max",
                        "seconds": seconds,
                        "connections": 32,
                        "offset": 10000,
                        "max_requests": 40000,
                    },
                    f"ingest-max-{label}",
                )
                cpu = cpu_seconds(server) - cpu_before
                accepted = peak["statuses"].get("201", 0)
                result["max"] = {
                    "accepted_per_s": peak["accepted_per_s"],
                    "statuses": peak["statuses"],
                    "latency_ms": summary(peak["latency_ms"]),
                    "server_cpu_ms_per_item": 1000 * cpu / max(accepted, 1),
                }
                if self.args.profile:
                    # The busiest child: uvicorn's workers, not its resource tracker.
                    worker = max(children_of(server) or [server], key=cpu_seconds)
                    raw = self.work / "ingest.pyspy"
                    spy = profiles.py_spy_start(worker, raw, 8)
                    self.loadgen(
                        env,
                        {
                            **base,
                            "mode": "max",
                            "seconds": 8,
                            "connections": 32,
                            "offset": 60000,
                            "max_requests": 20000,
                        },
                        "ingest-profile",
                    )
                    spy.wait(timeout=60)
                    profiles.summarise_raw(
                        raw,
                        PROFILES / "ingest.txt",
                        title="ingest: one uvicorn worker under full load",
                    )
        self.raw[f"ingest_{label}"] = result
        self.log(f"ingest ({label}): {json.dumps(result)}")

    def feeds(self, env: dict) -> None:
        result = run_json([PY, "-m", "bench.child", "feeds"], env)
        self.raw["feeds"] = result
        self.log(f"feeds: {json.dumps(result)}")

    def newsletter(self, pg) -> None:
        binary = smtp_sink_binary()
        small = 2000 if self.args.quick else 10000
        big = 5000 if self.args.quick else self.args.big
        with pg.database() as url:
            site = self.work / "site-mail"
            env = self.env(url, site)
            self.prepare(env, 0)
            archive.load(url, 2, end=datetime.now(UTC) - timedelta(minutes=1), prefix="mail")
            with pg_connect(url) as conn:
                item_ids = [
                    row[0] for row in conn.execute("SELECT id FROM items ORDER BY published_at")
                ]
            archive.load_subscribers(url, small, item_region="region-skane")
            # Every subscriber must want the item: give both items region-skane.
            with pg_connect(url) as conn:
                conn.execute("""UPDATE items SET regions = '["region-skane"]'::json""")
            port = free_port()
            sink_log = self.logs / "smtp-sink.log"
            if binary:
                self.smtp_sink = f"Postfix smtp-sink ({binary})"
                sink_cmd = [binary, "-u", "postfix", f"127.0.0.1:{port}", "512"]
            else:
                self.smtp_sink = "aiosmtpd Sink handler (smtp-sink not available)"
                sink_cmd = [
                    PY,
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    f"127.0.0.1:{port}",
                    "-c",
                    "aiosmtpd.handlers.Sink",
                ]
            env["NEWSROOM_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
            apply_env(env)
            render = run_json([PY, "-m", "bench.child", "mail-render", "2000"], env)
            self.raw["newsletter_render"] = render
            if self.args.profile:
                profiles.pyinstrument(
                    PROFILES / "newsletter_render.txt", ["mail-render", "2000"], env
                )
            self.log(f"newsletter render: {json.dumps(render)}")
            with open(sink_log, "wb") as sink_out:
                sink = subprocess.Popen(
                    sink_cmd, stdout=sink_out, stderr=subprocess.STDOUT, start_new_session=True
                )
            try:
                wait_for_port("127.0.0.1", port, timeout=30)
                self.raw["newsletter_small"] = self._send(
                    env, url, item_ids[0], small, self.args.mail_cap_small
                )
                archive.load_subscribers(url, big - small, item_region="region-skane", start=small)
                self.raw["newsletter_big"] = self._send(
                    env, url, item_ids[1], big, self.args.mail_cap, profile=self.args.profile
                )
            finally:
                sink.terminate()
                sink.wait(timeout=10)

    def _send(
        self, env: dict, url: str, item_id, recipients: int, cap: float, profile: bool = False
    ) -> dict:
        from shared.celery_app import celery_app
        from shared.events import ItemPublished

        flush_redis()
        newsletter = f"item:{item_id}"
        with self.processes(env) as procs:
            worker = procs.celery_worker(
                "notify-worker", "services.notify.tasks", "notify", concurrency=2
            )
            time.sleep(4)
            event = ItemPublished(item_id=item_id, item_version=1).model_dump(mode="json")
            began = time.perf_counter()
            celery_app.send_task("notify.handle_event", kwargs={"event": event}, queue="notify")
            spy = None
            if profile:
                time.sleep(1)
                raw = self.work / "notify.pyspy"
                spy = profiles.py_spy_start(children_of(worker.pid)[0], raw, 15)
            sent = 0
            with pg_connect(url) as conn:
                conn.autocommit = True
                while time.perf_counter() - began < cap:
                    sent = conn.execute(
                        "SELECT count(*) FROM deliveries WHERE newsletter = %s AND status = 'sent'",
                        (newsletter,),
                    ).fetchone()[0]
                    if sent >= recipients:
                        break
                    time.sleep(0.1)
                elapsed = time.perf_counter() - began
                states = dict(
                    conn.execute(
                        "SELECT status, count(*) FROM deliveries WHERE newsletter = %s"
                        " GROUP BY status",
                        (newsletter,),
                    ).fetchall()
                )
            if spy is not None:
                spy.wait(timeout=60)
                profiles.summarise_raw(
                    raw,
                    PROFILES / "newsletter_delivery.txt",
                    title="notify worker pool process delivering batches",
                )
            pids = children_of(worker.pid)
            rss = {
                "main_kb": peak_rss_kb(worker.pid),
                "children_kb": [peak_rss_kb(pid) for pid in pids],
            }
        result = {
            "recipients": recipients,
            "sent": sent,
            "seconds": elapsed,
            "mails_per_s": sent / elapsed,
            "complete": sent >= recipients,
            "ledger": states,
            "worker_peak_rss": rss,
        }
        self.log(f"newsletter to {recipients}: {json.dumps(result)}")
        return result

    def search(self, env: dict, label: str) -> None:
        """Refill the index from the archive, then time a mix of Swedish queries."""
        self.log(f"search ({label}) ...")
        result = run_json([PY, "-m", "bench.child", "search"], env, timeout=1800)
        self.raw[f"search_{label}"] = result
        self.log(
            f"search ({label}): {result['documents']} documents indexed in "
            f"{result['reindex_s']:.0f} s; {result['searches']} searches p50 "
            f"{result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
        )

    # --- the whole run ------------------------------------------------------------------

    def run(self) -> None:
        from tests.servers import postgres

        only = set(self.args.only.split(",")) if self.args.only else set(SCENARIOS)
        small, mid, big = (200, 2000, 5000) if self.args.quick else (1000, 10000, self.args.big)
        self.sizes = {"small": small, "mid": mid, "big": big}
        with postgres() as pg:
            flush_redis()
            if only & {"publish", "ingest", "burst"}:
                with pg.database() as url:
                    env = self.env(url, self.work / "site-small")
                    self.prepare(env, small)
                    self.attempt(self.rebuild, env, "small")
                    if self.args.profile:  # the same code as the big rebuilds, in seconds
                        shutil.rmtree(self.work / "site-small", ignore_errors=True)
                        self.attempt(
                            profiles.pyinstrument, PROFILES / "rebuild.txt", ["rebuild"], env
                        )
                    if "publish" in only:
                        self.attempt(self.publish, env, "small")
                        self.attempt(self.files_per_event, env, "small")
                    if "ingest" in only:
                        self.attempt(self.ingest, env, "distributed")
                    if "burst" in only:
                        self.attempt(burst.scenario, self, env, "distributed", embedded=False)
            if only & {"rebuild", "feeds"}:
                with pg.database() as url:
                    env = self.env(url, self.work / "site-mid")
                    self.prepare(env, mid)
                    self.attempt(self.rebuild, env, "mid")
                    self.attempt(self.feeds, env)
                    if self.args.profile:
                        self.attempt(profiles.pyinstrument, PROFILES / "feeds.txt", ["feeds"], env)
                shutil.rmtree(self.work / "site-mid", ignore_errors=True)
            if only & {"rebuild", "publish"}:
                with pg.database() as url:
                    env = self.env(url, self.work / "site-big")
                    self.prepare(env, big)
                    self.attempt(self.rebuild, env, "big")
                    if "publish" in only:
                        self.attempt(self.publish, env, "big")
                        self.attempt(self.files_per_event, env, "big")
                        if self.args.profile:
                            self.attempt(
                                profiles.pyinstrument,
                                PROFILES / "publish_apply_event.txt",
                                ["files-per-event", "5"],
                                env,
                            )
                shutil.rmtree(self.work / "site-big", ignore_errors=True)
            if "newsletter" in only:
                self.attempt(self.newsletter, pg)
            if "media" in only:
                self.attempt(media.scenario, self, pg)
            if "search" in only:
                with pg.database() as url:
                    env = self.env(url, self.work / "site-search")
                    self.prepare(env, big)
                    self.attempt(self.search, env, "postgres")
        if "search" in only:
            db = self.work / "search.db"
            env = base_env(
                database_url=f"sqlite:///{db}",
                broker_url="memory://",
                site_dir=self.work / "site-search-embedded",
                smtp_url=f"file:{self.work / 'outbox'}",
            )
            self.prepare(env, mid)
            self.attempt(self.search, env, "sqlite")
            db.unlink(missing_ok=True)
        if "burst" in only:
            db = self.work / "burst.db"
            env = base_env(
                database_url=f"sqlite:///{db}",
                broker_url="memory://",
                site_dir=self.work / "site-burst-embedded",
                smtp_url=f"file:{self.work / 'outbox'}",
            )
            self.prepare(env, small)
            self.attempt(self.rebuild, env, "burst_embedded")
            self.attempt(burst.scenario, self, env, "embedded", embedded=True)
            db.unlink(missing_ok=True)
        if "embedded" in only:
            db = self.work / "embedded.db"
            env = base_env(
                database_url=f"sqlite:///{db}",
                broker_url="memory://",
                site_dir=self.work / "site-embedded",
                smtp_url=f"file:{self.work / 'outbox'}",
            )
            self.prepare(env, small)
            self.attempt(self.rebuild, env, "embedded_small")
            self.attempt(self.publish, env, "embedded_small", embedded=True)
            # The same database as it is now, for the app without its workers: the events its
            # posts leave waiting must not fall on the full app's run, nor its posts on these.
            alone = self.work / "embedded-alone.db"
            with (
                contextlib.closing(sqlite3.connect(db)) as source,
                contextlib.closing(sqlite3.connect(alone)) as copy,
            ):
                source.backup(copy)
            self.attempt(self.ingest, env, "embedded", embedded=True)
            alone_env = {**env, "NEWSROOM_DATABASE_URL": f"sqlite:///{alone}"}
            apply_env(alone_env)
            self.attempt(self.ingest, alone_env, "embedded_alone", alone=True)
            apply_env(env)
            db.unlink(missing_ok=True)
            alone.unlink(missing_ok=True)
            db2 = self.work / "embedded-mid.db"
            env = base_env(
                database_url=f"sqlite:///{db2}",
                broker_url="memory://",
                site_dir=self.work / "site-embedded-mid",
                smtp_url=f"file:{self.work / 'outbox'}",
            )
            self.prepare(env, mid)
            self.attempt(self.rebuild, env, "embedded_mid")
        flush_redis()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument(
        "--big",
        type=int,
        default=int(os.environ.get("BENCH_BIG", 100_000)),
        help="the large archive and mailing list (default 100000)",
    )
    parser.add_argument("--only", default="", help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--ingest-workers", type=int, default=2)
    parser.add_argument(
        "--mail-cap-small",
        type=float,
        default=180.0,
        help="seconds the 10k newsletter may take before it is cut short",
    )
    parser.add_argument(
        "--mail-cap",
        type=float,
        default=60.0,
        help="seconds the 100k newsletter may take before it is cut short",
    )
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--merge", action="store_true", help="keep the other figures of the last results in --out"
    )
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the profiles (bench/results/profiles/)",
    )
    args = parser.parse_args()
    bench = Bench(args)
    previous = Path(args.out) / "latest.json"
    if args.merge and previous.exists():
        # Re-measure some scenarios and keep the other figures of the last full run.
        data = json.loads(previous.read_text(encoding="utf-8"))
        bench.raw = data["raw"]
        bench.raw.pop("errors", None)
        bench.smtp_sink = data["meta"].get("smtp_sink", bench.smtp_sink)
        bench.notes.extend(data["meta"].get("notes", []))
        bench.notes.append(
            f"merged: {args.only} re-measured on {datetime.now(UTC):%Y-%m-%d %H:%M} "
            f"UTC; the rest from the run of {data['meta']['date']}"
        )
    try:
        bench.run()
    finally:
        from bench.report import write

        write(bench, Path(args.out))
        for site in bench.work.glob("site-*"):
            shutil.rmtree(site, ignore_errors=True)
    bench.log(f"done; results in {args.out}; logs in {bench.logs}")


if __name__ == "__main__":
    main()
