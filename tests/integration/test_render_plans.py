"""Render's date-ordered reads keep their plans on tables that were never analyzed.

Autovacuum may be off: after a bulk insert the planner has no statistics, takes
`status = 'published'` to keep 0.5 % of the rows, and walked every published item through the
status index to find 50. The plans are asserted (EXPLAIN), not the time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import event, text

from newsroom.cli import main
from services.render import queries
from services.render.renderer import count_months
from shared.db import get_engine, session_scope

ITEMS = 20_000


@pytest.fixture
def migrated(postgres_url, site_dir, tmp_path, monkeypatch) -> str:
    """A migrated, empty PostgreSQL database."""
    from shared.migrate import upgrade
    from tests.conftest import _reset_caches

    monkeypatch.setenv("NEWSROOM_DATABASE_URL", postgres_url)
    monkeypatch.setenv("NEWSROOM_BROKER_URL", "memory://")
    monkeypatch.setenv("NEWSROOM_SMTP_URL", f"file:{tmp_path / 'outbox'}")
    _reset_caches()
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture
def unanalyzed(migrated) -> str:
    """Items and tags bulk-inserted into a migrated database, never analyzed."""
    with get_engine().begin() as conn:
        for table in ("items", "item_tags"):  # whatever the server's autovacuum setting
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        conn.execute(
            text(
                """
                INSERT INTO items (id, slug, month, title, summary, body_md, body_html,
                    published_at, regions, topics, attachments, status, version, notify,
                    created_at, updated_at)
                SELECT gen_random_uuid(), 'nyhet-' || n, to_char(at, 'YYYY-MM'), 'Nyhet ' || n,
                    'Sammanfattning', 'Text', '<p>Text</p>', at, '["region-skane"]',
                    '["miljo"]', '[]', CASE WHEN n % 40 = 0 THEN 'withdrawn' ELSE 'published'
                    END, 1, true, at, at
                FROM generate_series(1, :count) AS n,
                    LATERAL (SELECT timestamptz '2019-01-01' + n * interval '1 hour' AS at) AS t
                """
            ),
            {"count": ITEMS},
        )
        for kind, slug in (("region", "region-skane"), ("topic", "miljo")):
            conn.execute(
                text(
                    "INSERT INTO item_tags (item_id, kind, slug, published_at, visible) "
                    "SELECT id, :kind, :slug, published_at, status = 'published' FROM items"
                ),
                {"kind": kind, "slug": slug},
            )
        never = conn.scalar(
            text(
                "SELECT bool_and(last_analyze IS NULL AND last_autoanalyze IS NULL) "
                "FROM pg_stat_user_tables WHERE relname IN ('items', 'item_tags')"
            )
        )
        assert never
    return migrated


def _scalar(sql: str, **parameters):
    with get_engine().connect() as conn:
        return conn.scalar(text(sql), parameters)


def _plans(statements: list[tuple[str, object]]) -> list[tuple[str, list[dict]]]:
    """Each SELECT's plan nodes (EXPLAIN, FORMAT JSON), flattened."""
    found = []
    raw = get_engine().raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            nodes, stack = [], [plan[0]["Plan"]]
            while stack:
                node = stack.pop()
                nodes.append(node)
                stack.extend(node.get("Plans", ()))
            found.append((statement, nodes))
    finally:
        raw.close()
    return found


def test_tag_month_and_latest_reads_walk_an_index_without_statistics(unanalyzed):
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    now = datetime(2021, 6, 1, tzinfo=UTC)
    event.listen(get_engine(), "before_cursor_execute", record)
    try:
        with session_scope() as session:
            latest = queries.latest(session, now=now)
            tagged = queries.tag_items(session, "region", "region-skane", now=now)
            month = queries.month_items(session, "2020-03", now=now)
            middle = latest[25]
            position = (middle.published_at, middle.id)
            assert queries.older(session, position, now=now).published_at < middle.published_at
            assert queries.newer(session, position, now=now).published_at > middle.published_at
            count_months(session, now=now, months=["2020-03", "2020-04"])
    finally:
        event.remove(get_engine(), "before_cursor_execute", record)

    assert len(latest) == len(tagged) == 50
    assert all(item.status == "published" for item in [*latest, *tagged, *month])
    assert [item.id for item in latest] == [item.id for item in tagged]  # every item tagged
    shown = "SELECT count(*) FROM items WHERE month = '2020-03' AND status = 'published'"
    assert len(month) == _scalar(shown) > 600
    plans = _plans(statements)
    assert len(plans) >= 6
    for statement, nodes in plans:
        kinds = {node["Node Type"] for node in nodes}
        indexes = {node.get("Index Name") for node in nodes}
        assert "Seq Scan" not in kinds, statement
        assert "ix_items_status_published_at" not in indexes, statement
        if "ORDER BY" in statement:  # read in the index's order, stopped at the LIMIT
            assert "Sort" not in kinds and "Incremental Sort" not in kinds, statement


def test_seed_gathers_statistics_of_what_it_loaded(migrated):
    result = CliRunner().invoke(main, ["seed"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with get_engine().connect() as conn:
        analyzed = dict(
            conn.execute(
                text(
                    "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE relname IN ('items', 'item_tags', 'pages')"
                )
            ).all()
        )
    assert analyzed == {"items": True, "item_tags": True, "pages": True}


def test_count_months_counts_only_visible_items(unanalyzed):
    now = datetime(2019, 1, 3, tzinfo=UTC) - timedelta(minutes=30)
    with session_scope() as session:
        count_months(session, now=now, months=["2019-01", "2019-02"])
        rows = dict(session.execute(text("SELECT month, count FROM render_months")).all())
    visible = _scalar(
        "SELECT count(*) FROM items WHERE status = 'published' AND published_at <= :now",
        now=now,
    )
    assert rows == {"2019-01": visible} and 40 < visible < 48  # none yet in February
