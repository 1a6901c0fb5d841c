"""The fixtures give real servers and migrated databases."""

import os

from sqlalchemy import text

from shared.db import session_scope
from tests.servers import REDIS_DB


def test_database_is_migrated(db):
    with session_scope() as session:
        assert session.execute(text("SELECT count(*) FROM items")).scalar_one() == 0


def test_migrations_build_the_schema_the_models_declare(db):
    """Every table, column and index of shared.models comes from a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shared.db import engine_for
    from shared.migrate import comparable
    from shared.models import Base

    with engine_for(db).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": comparable(connection.dialect.name)}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_redis_database_is_our_own(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    assert redis_url.endswith(f"/{REDIS_DB}")
    # Parallel workers (pytest-xdist) never share one: gw0 takes TEST_REDIS_DB, gw1 the next.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    assert REDIS_DB == int(os.environ.get("TEST_REDIS_DB", "13")) + worker


def test_smtp_server_records_real_mail(smtp_server):
    import smtplib
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Hållbar upphandling – åäö"
    message["From"] = "a@example.org"
    message["To"] = "b@example.org"
    message.set_content("Hej på dig")
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.send_message(message)
    [received] = smtp_server.wait_for(1)
    assert received["Subject"] == "Hållbar upphandling – åäö"
    assert received.get_content().strip() == "Hej på dig"
