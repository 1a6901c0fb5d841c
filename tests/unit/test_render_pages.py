"""Which pages an event touches and which files they are: pure functions, no I/O."""

from services.render.pages import (
    ARCHIVE,
    LATEST,
    ItemUrl,
    MonthPages,
    Place,
    TagIndex,
    TagPages,
    YearPages,
    first_targets,
    in_order,
    lock_key,
    place_from_event,
    touched_targets,
)


def test_publish_touches_item_listings_month_and_tags():
    place = Place("2021-04", "hej", ("region-skane",), ("miljo", "textilier"))
    assert touched_targets(current=place) == {
        ItemUrl("2021-04", "hej"),
        LATEST,
        ARCHIVE,
        MonthPages("2021-04"),
        YearPages("2021"),
        TagPages("region", "region-skane"),
        TagPages("topic", "miljo"),
        TagPages("topic", "textilier"),
        TagIndex("region"),
        TagIndex("topic"),
    }


def test_only_the_indexes_of_the_items_own_kinds_of_tags_are_touched():
    """/amne/ shows topics only: an item without topics, before or after, leaves it alone."""
    before = Place("2020-12", "hej", ("region-skane",), ())
    after = Place("2021-01", "hej", ("region-gotland",), ())
    targets = touched_targets(current=after, previous=before)
    assert TagIndex("region") in targets and TagIndex("topic") not in targets
    assert {YearPages("2020"), YearPages("2021")} <= targets
    assert TagIndex("topic") in touched_targets(current=Place("2021-01", "b", (), ("miljo",)))


def test_update_also_touches_every_page_the_item_left():
    before = Place("2021-03", "gammal", ("region-skane",), ("miljo",))
    after = Place("2021-04", "ny", ("region-gotland",), ("miljo",))
    targets = touched_targets(current=after, previous=before)
    assert {ItemUrl("2021-03", "gammal"), ItemUrl("2021-04", "ny")} <= targets
    assert {MonthPages("2021-03"), MonthPages("2021-04")} <= targets
    assert {TagPages("region", "region-skane"), TagPages("region", "region-gotland")} <= targets


def test_neighbours_and_old_urls_are_touched():
    targets = touched_targets(
        current=Place("2021-04", "hej"),
        neighbours=[("2021-04", "före"), ("2021-05", "efter")],
        redirects=[("2021-01", "gammal-adress")],
    )
    assert {
        ItemUrl("2021-04", "före"),
        ItemUrl("2021-05", "efter"),
        ItemUrl("2021-01", "gammal-adress"),
    } <= targets


def test_withdrawn_item_missing_from_database_still_touches_where_it_was():
    before = place_from_event(
        {"month": "2021-04", "slug": "bort", "regions": ["region-skane"], "topics": []}
    )
    targets = touched_targets(current=None, previous=before)
    assert ItemUrl("2021-04", "bort") in targets and TagPages("region", "region-skane") in targets


def test_number_of_touched_pages_is_bounded_by_the_item_not_the_archive():
    place = Place("2021-04", "hej", ("region-skane",), ("miljo",))
    files = [
        f for t in touched_targets(current=place, neighbours=[("2021-04", "a")]) for f in t.files()
    ]
    # item + neighbour, latest, archive (page, sitemap index, its sitemap), month, region,
    # topic, year page, two indexes
    assert len(files) == 2 + 5 + 3 + 2 + 4 + 4 + 1 + 2


def test_target_files():
    assert ItemUrl("2021-04", "hej").files() == ("aktuellt/2021/04/hej/index.html",)
    assert LATEST.files() == (
        "index.html",
        "aktuellt/index.html",
        "rss.xml",
        "atom.xml",
        "feed.json",
    )
    assert MonthPages("2021-04").files() == (
        "arkiv/2021/04/index.html",
        "sitemaps/2021-04.xml",
    )
    assert TagPages("topic", "miljo").files()[0] == "amne/miljo/index.html"
    assert TagPages("region", "region-skane").files()[1] == "region/region-skane/rss.xml"
    assert YearPages("2021").files() == ("arkiv/2021/index.html",)
    assert TagIndex("region").files() == ("region/index.html",)
    assert TagIndex("topic").files() == ("amne/index.html",)


def test_lock_keys_are_stable_signed_64_bit():
    key = lock_key(ItemUrl("2021-04", "hej"))
    assert key == lock_key(ItemUrl("2021-04", "hej")) != lock_key(ItemUrl("2021-04", "hej2"))
    assert -(2**63) <= key < 2**63


def test_an_events_first_targets_are_the_item_page_and_the_latest_items():
    place = Place("2021-04", "hej", ("region-skane",), ("miljo",))
    assert first_targets(place) == {ItemUrl("2021-04", "hej"), LATEST}
    assert first_targets(place) < touched_targets(current=place)
    assert first_targets(None) == {LATEST}


def test_lock_keys_stay_those_of_running_workers():
    """Workers of the previous release may run beside new ones: the same page, the same key."""
    assert lock_key(ItemUrl("2021-04", "hej")) == -1170545968144167389
    assert lock_key(TagPages("topic", "miljo")) == lock_key(TagPages("topic", "miljo"))
    assert len({lock_key(t) for t in (LATEST, ARCHIVE, MonthPages("2021-04"))}) == 3


def test_targets_are_rendered_in_one_order():
    targets = {TagPages("topic", "miljo"), LATEST, ItemUrl("2021-04", "hej"), ARCHIVE}
    assert in_order(targets) == [
        ARCHIVE,
        ItemUrl("2021-04", "hej"),
        LATEST,
        TagPages("topic", "miljo"),
    ]
