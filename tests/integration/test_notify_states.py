"""A hypothesis state machine over subscribe → confirm → change → unsubscribe → resubscribe:
nobody is ever mailed before confirming or after unsubscribing, and each item reaches exactly
the confirmed immediate subscribers it matches, once."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test
from sqlalchemy import delete

from services.notify import preferences, tasks
from services.notify.api import ip_limiter
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Delivery, Item, ItemTag, Subscriber
from tests.integration.test_notify_support import (  # noqa: F401 (fixtures)
    client_fixture,
    eager_fixture,
    link,
    make_item,
    published,
    token_for,
    use_smtp,
)

PEOPLE = ("ada@example.se", "bo@example.se", "cilla@example.se")
REGIONS = ("region-skane", "region-gotland")
TOPICS = ("handskar", "miljo")
choices = st.fixed_dictionaries(
    {
        "regions": st.lists(st.sampled_from(REGIONS), unique=True, max_size=2),
        "topics": st.lists(st.sampled_from(TOPICS), unique=True, max_size=2),
        "frequency": st.sampled_from(("immediate", "weekly")),
    }
)


def test_nobody_is_mailed_unless_confirmed_and_subscribed(
    db, smtp_server, client, eager, monkeypatch
):
    use_smtp(monkeypatch, smtp_server.url)
    monkeypatch.setenv("NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE", "100000")

    get_settings.cache_clear()

    class Subscriptions(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with session_scope() as session:
                for table in (Delivery, Subscriber, ItemTag, Item):
                    session.execute(delete(table))
            ip_limiter.reset()
            self.seen = len(smtp_server.messages)
            self.status = {p: "none" for p in PEOPLE}
            self.prefs = {
                p: {"regions": [], "topics": [], "frequency": "immediate"} for p in PEOPLE
            }
            self.confirm_links: dict[str, list[str]] = {p: [] for p in PEOPLE}

        def new_mails(self):
            mails = smtp_server.messages[self.seen :]
            self.seen = len(smtp_server.messages)
            return mails

        def collect_confirmations(self) -> None:
            for message in self.new_mails():
                assert not message["List-Unsubscribe"], "a newsletter outside publish()"
                if "Bekräfta" in message["Subject"]:
                    self.confirm_links[str(message["To"])].append(
                        link(message, "/prenumeration/bekrafta")
                    )

        @rule(person=st.sampled_from(PEOPLE), wanted=choices)
        def subscribe(self, person, wanted):
            answer = client.post("/api/v1/subscriptions", json={"email": person, **wanted})
            assert answer.status_code == 202
            if self.status[person] != "confirmed":  # a subscriber's choices need their link
                self.status[person] = "pending"
                self.prefs[person] = wanted
            self.collect_confirmations()

        @rule(person=st.sampled_from(PEOPLE))
        def confirm(self, person):
            if not self.confirm_links[person]:
                return
            page = client.post(self.confirm_links[person][-1])
            assert page.status_code == 200
            if self.status[person] == "pending":
                self.status[person] = "confirmed"

        @precondition(lambda self: "confirmed" in self.status.values())
        @rule(data=st.data(), wanted=choices)
        def change(self, data, wanted):
            person = data.draw(
                st.sampled_from([p for p, s in self.status.items() if s == "confirmed"])
            )
            token = token_for("manage", person)
            page = client.post(f"/prenumeration/installningar?token={token}", data=wanted)
            assert page.status_code == 200
            self.prefs[person] = wanted

        @precondition(lambda self: any(s != "none" for s in self.status.values()))
        @rule(data=st.data())
        def unsubscribe(self, data):
            person = data.draw(st.sampled_from([p for p, s in self.status.items() if s != "none"]))
            token = token_for("unsubscribe", person)
            assert client.post(f"/prenumeration/avregistrera?token={token}").status_code == 200
            self.status[person] = "unsubscribed"

        @rule(
            region=st.sampled_from(REGIONS), topic=st.sampled_from(TOPICS), duplicate=st.booleans()
        )
        def publish(self, region, topic, duplicate):
            item_id = make_item(regions=(region,), topics=(topic,))
            for _ in range(2 if duplicate else 1):
                tasks.handle_event.apply(kwargs={"event": published(item_id)})
            mails = self.new_mails()
            got = sorted(str(m["To"]) for m in mails)
            expected = sorted(
                p
                for p in PEOPLE
                if self.status[p] == "confirmed"
                and self.prefs[p]["frequency"] == "immediate"
                and preferences.wants(
                    preferences.Preferences(self.prefs[p]["regions"], self.prefs[p]["topics"]),
                    preferences.Preferences((region,), (topic,)),
                )
            )
            assert got == expected

    run_state_machine_as_test(
        Subscriptions,
        settings=settings(
            max_examples=30,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
