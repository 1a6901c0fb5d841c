"""Immediate subscribers get at most one newsletter per window: the first item at once, the
rest of a burst together when the window closes. Tasks run as Celery runs them (eagerly,
here), on both databases, against a clock the test moves instead of sleeping."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from celery._state import _set_task_join_will_block
from sqlalchemy import func, select, update

from services.notify import tasks
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.events import ItemPlace, ItemWithdrawn
from shared.models import Item, MailWindow
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    add_subscribers,
    client_fixture,
    eager_fixture,
    link,
    make_item,
    published,
    use_smtp,
)

WINDOW = timedelta(minutes=2)
BUNDLE = "nya nyheter från Hållbar upphandling"


class Clock:
    """The time notify's tasks see; a test moves it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(db, smtp_server, eager, monkeypatch) -> Clock:
    use_smtp(monkeypatch, smtp_server.url)
    monkeypatch.setenv("NEWSROOM_IMMEDIATE_WINDOW", str(int(WINDOW.total_seconds())))
    get_settings.cache_clear()
    now = Clock()
    monkeypatch.setattr(tasks, "utcnow", now)
    return now


def publish(title: str, *, regions=("region-uppsala",), notify: bool = True):
    """An item becomes visible and notify handles its event."""
    item_id = make_item(title=title, regions=regions, topics=())
    if not notify:
        with session_scope() as session:
            session.execute(update(Item).where(Item.id == item_id).values(notify=False))
    tasks.handle_event.apply(kwargs={"event": published(item_id)})
    return item_id


def close_windows() -> int:
    return tasks.close_windows.apply().result


def mails(smtp_server, address: str) -> list[tuple[str, str]]:
    """(subject, text) of each mail an address received, in order."""
    return [
        (str(m["Subject"]), m.get_body(("plain",)).get_content()) for m in smtp_server.to(address)
    ]


def titles_in(text: str, titles: list[str]) -> Counter[str]:
    return Counter({title: text.count(title) for title in titles if title in text})


def test_thirty_items_in_a_minute_are_two_mails_for_each_immediate_subscriber(clock, smtp_server):
    add_subscribers("alla@example.se")
    add_subscribers("skane@example.se", regions=("region-skane",))
    add_subscribers("vecka@example.se", frequency="weekly")
    titles = [f"Nyhet {n:02d} om hållbar upphandling" for n in range(30)]
    start = clock()
    for n, title in enumerate(titles):
        publish(title, regions=("region-skane",) if n % 3 == 1 else ("region-uppsala",))
        if n == 10:
            publish("Tyst nyhet utan utskick", notify=False)
        clock.advance(seconds=2)
    # The first item each of them wants went out at once, the rest wait.
    assert [s for s, _ in mails(smtp_server, "alla@example.se")] == [titles[0]]
    assert [s for s, _ in mails(smtp_server, "skane@example.se")] == [titles[1]]

    # Each window closes on its own subscribers' time: alla's opened 2 s before skane's.
    clock.now = start + WINDOW
    assert close_windows() == 1
    assert len(mails(smtp_server, "alla@example.se")) == 2
    assert len(mails(smtp_server, "skane@example.se")) == 1
    clock.now = start + WINDOW + timedelta(seconds=40)  # late
    assert close_windows() == 1
    assert close_windows() == 0  # twice: nothing more

    wanted = {
        "alla@example.se": titles,
        "skane@example.se": [t for n, t in enumerate(titles) if n % 3 == 1],
    }
    for address, expected in wanted.items():
        (first, first_text), (second, second_text) = mails(smtp_server, address)
        assert first == expected[0]
        assert second == f"{len(expected) - 1} {BUNDLE}"
        got = titles_in(first_text, titles) + titles_in(second_text, titles)
        assert got == Counter(expected), address  # every one, none twice
        assert "Tyst nyhet" not in first_text + second_text
        # Listed as the digest lists them: newest first, each with its link.
        assert second_text.index(expected[-1]) < second_text.index(expected[1])
        assert second_text.count("/aktuellt/") == len(expected) - 1

    # Weekly subscribers are untouched: nothing now, everything in their digest.
    assert mails(smtp_server, "vecka@example.se") == []
    assert tasks.send_digest_here(now=clock() + timedelta(days=7)) == 1
    [(_, digest)] = mails(smtp_server, "vecka@example.se")
    assert titles_in(digest, titles) == Counter(titles)
    assert "Tyst nyhet" not in digest


def test_a_steady_stream_is_one_mail_per_window_and_a_quiet_window_ends(clock, smtp_server):
    add_subscribers("alla@example.se")
    start = clock()
    publish("Första")  # at once; a window opens
    clock.advance(seconds=30)
    publish("Andra")
    clock.now = start + WINDOW
    close_windows()  # "Andra" goes, alone, as its own mail; the next window opens now
    clock.advance(seconds=10)
    publish("Tredje")  # waits for that window
    assert [s for s, _ in mails(smtp_server, "alla@example.se")] == ["Första", "Andra"]
    clock.now = start + 2 * WINDOW
    close_windows()
    clock.now = start + 3 * WINDOW
    close_windows()  # nothing waited in this one: no mail, and no window after it
    clock.advance(seconds=1)
    publish("Fjärde")  # at once again
    subjects = [s for s, _ in mails(smtp_server, "alla@example.se")]
    assert subjects == ["Första", "Andra", "Tredje", "Fjärde"]


def test_withdrawn_items_and_unsubscribed_people_are_left_out(clock, smtp_server, client):
    add_subscribers("alla@example.se", "borta@example.se")
    add_subscribers("gotland@example.se", regions=("region-gotland",))
    start = clock()
    publish("Början", regions=("region-gotland",))
    clock.advance(seconds=5)
    kept = publish("Står kvar")
    withdrawn = publish("Dras tillbaka")
    publish("Bara Gotland", regions=("region-gotland",))
    with session_scope() as session:
        item = session.get(Item, withdrawn)
        previous = ItemPlace.of(item)
        item.status = "withdrawn"
    event = ItemWithdrawn(item_id=withdrawn, item_version=2, previous=previous)
    tasks.handle_event.apply(kwargs={"event": event.model_dump(mode="json")})
    [first] = smtp_server.to("borta@example.se")
    unsubscribed = client.post(link(first, "/prenumeration/avregistrera"))
    assert unsubscribed.status_code == 200

    clock.now = start + WINDOW
    assert close_windows() == 1
    assert [s for s, _ in mails(smtp_server, "alla@example.se")] == [
        "Början",
        f"2 {BUNDLE}",
    ]
    _, bundle = mails(smtp_server, "alla@example.se")[1]
    assert "Står kvar" in bundle and "Bara Gotland" in bundle and "Dras tillbaka" not in bundle
    assert len(smtp_server.to("borta@example.se")) == 1
    # Gotland wanted only its own: one item waited for it, and comes as that item's mail.
    assert [s for s, _ in mails(smtp_server, "gotland@example.se")] == ["Början", "Bara Gotland"]
    assert kept


@pytest.mark.timeout(120)
def test_closing_at_once_in_two_workers_while_items_arrive_sends_each_item_once(clock, smtp_server):
    people = [f"person{n}@example.se" for n in range(5)]
    add_subscribers(*people)
    titles = [f"Samtidig nyhet {n:02d}" for n in range(12)]
    start = clock()
    for title in titles[:6]:
        publish(title)
    clock.now = start + WINDOW
    ready = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(work) -> None:
        try:
            ready.wait(timeout=30)
            work()
        except BaseException as exc:  # shown by the assertion below
            errors.append(exc)

    def arrive() -> None:
        for title in titles[6:]:
            publish(title)

    threads = [threading.Thread(target=run, args=(w,)) for w in (close_windows, close_windows)]
    threads.append(threading.Thread(target=run, args=(arrive,)))
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(timeout=90)
    finally:
        # Eager apply_async sets and restores one process-wide "inside a task" flag; threads
        # doing it at once can leave it set, and later tests' result.get() would refuse.
        _set_task_join_will_block(False)
    assert not errors, errors
    clock.now = start + 3 * WINDOW
    close_windows()
    with session_scope() as session:
        due = (MailWindow.closed_at.is_(None), MailWindow.closes_at <= clock())
        assert session.scalar(select(func.count(MailWindow.id)).where(*due)) == 0
    for person in people:
        received = mails(smtp_server, person)
        got = sum((titles_in(text, titles) for _, text in received), Counter())
        assert got == Counter(titles), person
        assert received[0][0] == titles[0] and received[1][0].endswith(BUNDLE)
        assert len(received) <= 3


def test_beat_closes_due_windows_often_on_the_notify_queue():
    entry = tasks.beat_schedule()["notify-close-windows"]
    assert entry["task"] == tasks.close_windows.name == "notify.close_windows"
    assert entry["options"]["queue"] == tasks.QUEUE
    # Well within the default window of 10 minutes, so a window closes on time.
    assert entry["schedule"].run_every <= timedelta(seconds=60)
