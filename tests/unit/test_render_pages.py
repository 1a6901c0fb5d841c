"""Which pages an event touches and which files they are: pure functions, no I/O."""

from services.render.pages import (
    ARCHIVE,
    LATEST,
    Place,
    first_targets,
    lock_key,
    place_from_event,
    target_files,
    touched_targets,
)


def test_publish_touches_item_listings_month_and_tags():
    place = Place("2021-04", "hej", ("region-skane",), ("miljo", "textilier"))
    assert touched_targets(current=place) == {
        ("item", "2021-04", "hej"),
        LATEST,
        ARCHIVE,
        ("month", "2021-04"),
        ("region", "region-skane"),
        ("topic", "miljo"),
        ("topic", "textilier"),
    }


def test_update_also_touches_every_page_the_item_left():
    before = Place("2021-03", "gammal", ("region-skane",), ("miljo",))
    after = Place("2021-04", "ny", ("region-gotland",), ("miljo",))
    targets = touched_targets(current=after, previous=before)
    assert {("item", "2021-03", "gammal"), ("item", "2021-04", "ny")} <= targets
    assert {("month", "2021-03"), ("month", "2021-04")} <= targets
    assert {("region", "region-skane"), ("region", "region-gotland")} <= targets


def test_neighbours_and_old_urls_are_touched():
    targets = touched_targets(
        current=Place("2021-04", "hej"),
        neighbours=[("2021-04", "före"), ("2021-05", "efter")],
        redirects=[("2021-01", "gammal-adress")],
    )
    assert {
        ("item", "2021-04", "före"),
        ("item", "2021-05", "efter"),
        ("item", "2021-01", "gammal-adress"),
    } <= targets


def test_withdrawn_item_missing_from_database_still_touches_where_it_was():
    before = place_from_event(
        {"month": "2021-04", "slug": "bort", "regions": ["region-skane"], "topics": []}
    )
    targets = touched_targets(current=None, previous=before)
    assert ("item", "2021-04", "bort") in targets and ("region", "region-skane") in targets


def test_number_of_touched_pages_is_bounded_by_the_item_not_the_archive():
    place = Place("2021-04", "hej", ("region-skane",), ("miljo",))
    files = [
        f
        for t in touched_targets(current=place, neighbours=[("2021-04", "a")])
        for f in target_files(t)
    ]
    assert len(files) == 2 + 5 + 2 + 2 + 4 + 4


def test_target_files():
    assert target_files(("item", "2021-04", "hej")) == ("aktuellt/2021/04/hej/index.html",)
    assert target_files(LATEST) == (
        "index.html",
        "aktuellt/index.html",
        "rss.xml",
        "atom.xml",
        "feed.json",
    )
    assert target_files(("month", "2021-04")) == (
        "arkiv/2021/04/index.html",
        "sitemaps/2021-04.xml",
    )
    assert target_files(("topic", "miljo"))[0] == "amne/miljo/index.html"
    assert target_files(("region", "region-skane"))[1] == "region/region-skane/rss.xml"


def test_lock_keys_are_stable_signed_64_bit():
    key = lock_key(("item", "2021-04", "hej"))
    assert key == lock_key(("item", "2021-04", "hej")) != lock_key(("item", "2021-04", "hej2"))
    assert -(2**63) <= key < 2**63


def test_an_events_first_targets_are_the_item_page_and_the_latest_items():
    place = Place("2021-04", "hej", ("region-skane",), ("miljo",))
    assert first_targets(place) == {("item", "2021-04", "hej"), LATEST}
    assert first_targets(place) < touched_targets(current=place)
    assert first_targets(None) == {LATEST}
