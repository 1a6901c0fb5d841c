import uuid

from shared.events import CONSUMERS, ItemPlace, ItemUpdated, parse_event


def test_event_round_trips_through_json():
    event = ItemUpdated(
        item_id=uuid.uuid4(),
        item_version=2,
        previous=ItemPlace(
            slug="hej",
            month="2021-04",
            published_at="2021-04-29T07:00:00+00:00",
            regions=("region-skane",),
            topics=("miljo",),
            status="published",
        ),
    )
    again = parse_event(event.model_dump(mode="json"))
    assert again == event
    assert again.type == "item.updated"


def test_every_item_event_has_a_render_a_notify_and_a_search_consumer():
    for event_type, consumers in CONSUMERS.items():
        queues = {queue for _, queue in consumers}
        if event_type.startswith("item."):
            assert queues == {"render", "notify", "search"}
        elif event_type.startswith("page."):
            assert queues == {"render"}  # static pages: the site alone shows them
        elif event_type == "media.uploaded":
            assert consumers == (("render.publish_media", "render"),)  # files under /media/
        else:
            assert queues == {"notify"}  # subscription requests
