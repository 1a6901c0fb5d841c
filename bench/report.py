"""Turn the raw figures into bench/results/latest.json and the Markdown table latest.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench import burst


def _git_revision(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


def _measure(rows, key, measure, target, value, unit, passed, notes=""):
    rows.append(
        {
            "key": key,
            "measure": measure,
            "target": target,
            "measured": None if value is None else round(value, 3),
            "unit": unit,
            "pass": passed,
            "notes": notes,
        }
    )


def measures(bench) -> list[dict]:
    raw, sizes, rows = bench.raw, bench.sizes, []
    small, big = f"{sizes['small']:,}", f"{sizes['big']:,}"
    ingest = raw.get("ingest_distributed")
    if ingest:
        peak = ingest.get("max", {})
        fixed = ingest["fixed_200"]
        _measure(
            rows,
            "ingest_throughput",
            "ingest: items accepted per second (distributed, closed loop, 32 connections)",
            "≥ 1000 /s",
            peak.get("accepted_per_s"),
            "items/s",
            peak.get("accepted_per_s", 0) >= 1000,
            f"uvicorn --workers {bench.args.ingest_workers}, PostgreSQL; answers "
            f"{peak.get('statuses')}; latency p50 {peak.get('latency_ms', {}).get('p50')} ms; "
            f"server CPU {peak.get('server_cpu_ms_per_item', 0):.1f} ms per item",
        )
        _measure(
            rows,
            "ingest_p50_at_200",
            "ingest: p50 latency at 200 items/s offered",
            "(reported)",
            fixed["latency_ms"].get("p50"),
            "ms",
            None,
            f"accepted {fixed['accepted_per_s']:.0f}/s, answers {fixed['statuses']}",
        )
        _measure(
            rows,
            "ingest_p99_at_200",
            "ingest: p99 latency at 200 items/s offered",
            "≤ 50 ms",
            fixed["latency_ms"].get("p99"),
            "ms",
            fixed["latency_ms"].get("p99", 1e9) <= 50,
            "open loop, counted from each request's scheduled time",
        )
    emb = raw.get("ingest_embedded")
    if emb:
        fixed = emb["fixed_200"]
        _measure(
            rows,
            "ingest_p99_at_200_embedded",
            "ingest (embedded, SQLite): p99 latency at 200 items/s",
            "≤ 50 ms",
            fixed["latency_ms"].get("p99"),
            "ms",
            fixed["latency_ms"].get("p99", 1e9) <= 50,
            f"p50 {fixed['latency_ms'].get('p50')} ms, accepted "
            f"{fixed['accepted_per_s']:.0f}/s, answers {fixed['statuses']}",
        )
    alone = raw.get("ingest_embedded_alone")
    if alone:
        fixed = alone["fixed_200"]
        _measure(
            rows,
            "ingest_alone_at_200_embedded",
            "ingest (embedded app without its worker thread, relay and beat): items accepted "
            "per second at 200 items/s",
            "(reported)",
            fixed["accepted_per_s"],
            "items/s",
            None,
            f"the request path's own capacity in one process; p50 "
            f"{fixed['latency_ms'].get('p50')} ms, p99 {fixed['latency_ms'].get('p99')} ms, "
            f"answers {fixed['statuses']}",
        )
    for label, size in (("small", small), ("big", big), ("embedded_small", small)):
        pub = raw.get(f"publish_{label}")
        if not pub:
            continue
        mode = "embedded, SQLite" if label.startswith("embedded") else "distributed"
        allms = pub["all_ms"]
        parts = (
            f"item page p50 {pub['item_ms']['p50']:.0f}, /aktuellt/ p50 "
            f"{pub['latest_ms']['p50']:.0f}, feeds p50 {pub['feeds_ms']['p50']:.0f} ms; "
            f"n={allms['n']}"
        )
        _measure(
            rows,
            f"publish_p50_{label}",
            f"publish latency p50, {size} items ({mode})",
            "≤ 50 ms",
            allms["p50"],
            "ms",
            allms["p50"] <= 50,
            parts,
        )
        _measure(
            rows,
            f"publish_p99_{label}",
            f"publish latency p99, {size} items ({mode})",
            "≤ 100 ms",
            allms["p99"],
            "ms",
            allms["p99"] <= 100,
            f"max {allms['max']:.0f} ms",
        )
    burst.measures(raw, lambda *row: _measure(rows, *row))
    if raw.get("publish_small") and raw.get("publish_big"):
        ratio = raw["publish_big"]["all_ms"]["p50"] / raw["publish_small"]["all_ms"]["p50"]
        _measure(
            rows,
            "publish_ratio",
            f"publish latency ratio {big}/{small} items (p50)",
            "≤ 1.2",
            ratio,
            "×",
            ratio <= 1.2,
        )
    if raw.get("files_small") and raw.get("files_big"):
        a, b = raw["files_small"], raw["files_big"]
        # The same 10 items (same tags) at both sizes: "equal" means the bound does not grow
        # with the archive; neighbours and months differ a little, so within a quarter.
        equal = b["median"] <= 1.25 * a["median"] + 1 and b["max"] <= 1.25 * a["max"] + 1
        _measure(
            rows,
            "files_per_item_small",
            f"files written per published item, {small}",
            "equal, small",
            a["median"],
            "files",
            equal and a["max"] <= 30,
            f"per event {a['files_changed']} (max {a['max']}); render alone p50 "
            f"{a['apply_event_ms']['p50']:.0f} ms",
        )
        _measure(
            rows,
            "files_per_item_big",
            f"files written per published item, {big}",
            "equal, small",
            b["median"],
            "files",
            equal and b["max"] <= 30,
            f"per event {b['files_changed']} (max {b['max']}); render alone p50 "
            f"{b['apply_event_ms']['p50']:.0f} ms",
        )
    for label, name in (("mid", "PostgreSQL"), ("embedded_mid", "embedded, SQLite")):
        reb = raw.get(f"rebuild_{label}")
        if reb:
            _measure(
                rows,
                f"rebuild_{label}_pages_per_s",
                f"full rebuild of {sizes['mid']:,} items ({name}): pages/s",
                "≥ 3000 /s",
                reb["pages_per_s"],
                "pages/s",
                reb["pages_per_s"] >= 3000,
                f"{reb['html_pages_written']} pages, {reb['files_written']} files in "
                f"{reb['seconds']:.1f} s ({reb['files_per_s']:.0f} files/s); "
                f"{reb['pages_per_cpu_s']:.0f} pages per CPU second",
            )
    reb = raw.get("rebuild_big")
    if reb:
        mib = reb["maxrss_kb"] / 1024
        _measure(
            rows,
            "rebuild_big_peak_rss",
            f"full rebuild of {big} items: peak RSS",
            "≤ 300 MB",
            mib,
            "MiB",
            mib <= 300 * 1e6 / 2**20,
            f"process tree: rebuild VmHWM {reb.get('main_maxrss_kb', 0) / 1024:.0f} MiB + "
            f"{reb.get('workers', 1) - 1} × helper peak "
            f"{reb.get('helper_maxrss_kb', 0) / 1024:.0f} MiB (shared pages counted in "
            f"each); {reb['seconds']:.0f} s, {reb['pages_per_s']:.0f} pages/s",
        )
    feeds = raw.get("feeds")
    if feeds:
        for kind in ("rss", "atom", "json"):
            value = feeds[kind]["median_ms"]
            _measure(
                rows,
                f"feed_{kind}",
                f"one 50-entry feed: {kind.upper()}",
                "≤ 2 ms",
                value,
                "ms",
                value <= 2,
                f"median of 200, min {feeds[kind]['min_ms']:.2f} ms",
            )
        _measure(
            rows,
            "feed_all_three",
            "all three feeds of one scope, as render writes them",
            "(reported)",
            feeds["all_three"]["median_ms"],
            "ms",
            None,
            "one feedgen build shared by RSS and Atom; entries already built",
        )
        if "all_three_cold" in feeds:
            _measure(
                rows,
                "feed_all_three_cold",
                "all three feeds, no entry built before",
                "(reported)",
                feeds["all_three_cold"]["median_ms"],
                "ms",
                None,
                "as the first feed of a rebuild: every entry built (then reused)",
            )
    mail = raw.get("newsletter_small")
    if mail:
        _measure(
            rows,
            "newsletter_mails_per_s",
            f"newsletter: mails/s to a local SMTP sink, {mail['recipients']:,} recipients",
            "≥ 1000 /s",
            mail["mails_per_s"],
            "mails/s",
            mail["mails_per_s"] >= 1000,
            f"{bench.smtp_sink}; notify worker --concurrency 2; event to last ledger row "
            f"'sent'; ledger {mail['ledger']}"
            + (
                ""
                if mail["complete"]
                else f"; cut short after {mail['seconds']:.0f} s: rate over the mails sent by then"
            ),
        )
    render = raw.get("newsletter_render")
    if render:
        _measure(
            rows,
            "newsletter_render_per_recipient",
            "newsletter: render time per recipient",
            "≤ 0.2 ms",
            render["per_recipient_ms"],
            "ms",
            render["per_recipient_ms"] <= 0.2,
            f"message {render['build_message_ms']:.3f} ms + bytes "
            f"{render['as_bytes_ms']:.3f} ms; first (shared part) {render['first_ms']:.0f} ms",
        )
    mail = raw.get("newsletter_big")
    if mail:
        rss = mail["worker_peak_rss"]
        peak = max([rss["main_kb"], *rss["children_kb"]]) / 1024
        _measure(
            rows,
            "newsletter_worker_peak_rss",
            f"notify worker peak RSS, {mail['recipients']:,} recipients",
            "≤ 150 MB",
            peak,
            "MiB",
            peak <= 150 * 1e6 / 2**20,
            f"largest VmHWM of the worker's processes (main {rss['main_kb'] // 1024} MiB, "
            f"pool {[kb // 1024 for kb in rss['children_kb']]} MiB); "
            f"{mail['sent']:,} sent in {mail['seconds']:.0f} s "
            f"({mail['mails_per_s']:.0f}/s)"
            + (
                ""
                if mail["complete"]
                else " — cut short at the time cap; the plan of all recipients was done"
            ),
        )
    for label, database, target in (("postgres", "PostgreSQL", 50), ("sqlite", "SQLite", None)):
        found = raw.get(f"search_{label}")
        if not found:
            continue
        notes = (
            f"{found['searches']} searches of {len(found['per_query_p50_ms'])} Swedish queries "
            f"(with and without a region, topic or year filter) over {found['documents']:,} "
            f"documents; p50 {found['p50_ms']:.1f} ms, max {found['max_ms']:.1f} ms; index "
            f"refilled in {found['reindex_s']:.0f} s; CPU "
            f"{found.get('cpu_ms_per_search', 0):.1f} ms per search (this process and the "
            "database server)"
        )
        _measure(
            rows,
            f"search_p50_{label}",
            f"search: p50, {database}, {found['documents']:,} items",
            "(reported)",
            found["p50_ms"],
            "ms",
            None,
            notes,
        )
        _measure(
            rows,
            f"search_p99_{label}",
            f"search: p99, {database}, {found['documents']:,} items",
            f"≤ {target} ms" if target else "(reported)",
            found["p99_ms"],
            "ms",
            found["p99_ms"] <= target if target else None,
            notes,
        )
    media = raw.get("media")
    if media:
        upload, alone = media["upload_ms"], media["processing_alone"]
        _measure(
            rows,
            "media_upload_12mp",
            "media: 12 MP JPEG upload to all variants stored (distributed, p50)",
            "≤ 2000 ms",
            upload["p50"],
            "ms",
            upload["p50"] <= 2000,
            f"POST to 201 after the commit, n={upload['n']}, max {upload['max']:.0f} ms; "
            f"server CPU {media['server_cpu_ms_per_upload']:.0f} ms per upload; processing "
            f"alone p50 {alone['wall_ms']['p50']:.0f} ms ({alone['cpu_ms']['p50']:.0f} ms CPU); "
            f"{media['stored_files']} files, {media['stored_bytes_per_upload'] / 1e6:.1f} MB "
            f"stored per photo of {media['photo_bytes'] / 1e6:.1f} MB",
        )
        _measure(
            rows,
            "media_avif_960_bytes",
            "media: the 960 px AVIF of that photo",
            "≤ 150 kB",
            media["avif_960_bytes"] / 1000,
            "kB",
            media["avif_960_bytes"] <= 150_000,
            "variants (bytes): "
            + ", ".join(f"{name} {size:,}" for name, size in alone["variant_bytes"].items())
            + f"; the same bytes every run: {alone['same_bytes_every_run']}",
        )
        mib = media["server_peak_rss_kb"] / 1024
        _measure(
            rows,
            "media_peak_rss",
            "media: ingest server peak RSS while processing",
            "≤ 300 MB",
            mib,
            "MiB",
            mib <= 300 * 1e6 / 2**20,
            f"uvicorn VmHWM, {media['server_peak_rss_before_kb'] // 1024} MiB before the "
            f"photos; processing alone in a process of its own peaks at "
            f"{alone['maxrss_kb'] // 1024} MiB ({alone['baseline_kb'] // 1024} MiB after imports)",
        )
    return rows


def write(bench, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if not hasattr(bench, "sizes"):
        return
    rows = measures(bench)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": _git_revision(Path(__file__).resolve().parent.parent),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "sizes": bench.sizes,
        "quick": bench.args.quick,
        "smtp_sink": bench.smtp_sink,
        "duration_s": round(__import__("time").monotonic() - bench.started),
        "notes": bench.notes,
        "load_average_before": getattr(bench, "load_before", None),
        "load_average_after": os.getloadavg(),
    }
    (out / "latest.json").write_text(
        json.dumps(
            {"meta": meta, "measures": rows, "raw": bench.raw},
            indent=2,
            ensure_ascii=False,
            default=str,
        )
        + "\n",
        encoding="utf-8",
    )
    lines = [
        "# Newsroom benchmarks",
        "",
        f"{meta['date']}, revision {meta['revision']}, {meta['machine']['cpus']} CPUs, "
        f"Python {meta['machine']['python']}; sizes {bench.sizes}; SMTP sink: "
        f"{bench.smtp_sink}; took {meta['duration_s']} s; load average before "
        f"{meta['load_average_before']}, after {meta['load_average_after']}. "
        "Produced by `make bench`.",
        "",
        "| measure | target | measured | pass | notes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        value = "–" if row["measured"] is None else f"{row['measured']:,.2f} {row['unit']}"
        verdict = {True: "pass", False: "**fail**", None: "–"}[row["pass"]]
        lines.append(
            f"| {row['measure']} | {row['target']} | {value} | {verdict} | {row['notes']} |"
        )
    for note in bench.notes:
        lines += ["", f"- {note}"]
    (out / "latest.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
