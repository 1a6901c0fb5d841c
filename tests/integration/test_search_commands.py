"""The `newsroom` commands that keep the search index: db upgrade fills an empty one, search
reindex refills it."""

from __future__ import annotations

import json
from importlib.resources import files

from click.testing import CliRunner
from sqlalchemy import delete

from newsroom.cli import main
from services.ingest.service import seed
from services.search import service
from services.search.filters import Filters
from services.search.query import parse
from shared.db import session_scope, utcnow
from shared.models import SearchWord

SAMPLE = json.loads((files("shared") / "data" / "sample_items.json").read_text("utf-8"))


def total(text: str) -> int:
    with session_scope() as session:
        return service.search(session=session, text=text, filters=Filters(), now=utcnow()).total


def test_upgrade_fills_an_empty_index_and_reindex_refills_it(db):
    with session_scope() as session:  # items from before search existed: no documents
        seed(session=session, items=SAMPLE["items"], pages=[])
    assert total("handskar") == 0
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert total("handskar") == 1
    with session_scope() as session:
        session.execute(delete(SearchWord))  # the vocabulary comes back with the reindex
    result = runner.invoke(main, ["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "23 items" in result.output
    with session_scope() as session:
        assert service.suggest(session=session, query=parse("handskr"), now=utcnow()) == "handskar"
