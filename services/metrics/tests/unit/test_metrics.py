from datetime import UTC, date, datetime

from kcc_metrics.service import MetricsService
from kcc_shared.contracts import Channel, ContactReceived, ContactReceivedData


class FakeFacts:
    def __init__(self) -> None:
        self.facts = {}

    async def record(self, *, event_id, fact):
        self.facts.setdefault(event_id, fact)


def test_days_are_local_to_amsterdam_across_midnight_and_dst():
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam")
    # 23:30 UTC is already the next day in Amsterdam (CET, +1) ...
    assert metrics.local_day(datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) == date(2026, 11, 24)
    # ... and in summer time (+2) 22:30 UTC is too; on 25 Oct 2026 clocks went back at 01:00 UTC.
    assert metrics.local_day(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == date(2026, 7, 2)
    assert metrics.local_day(datetime(2026, 10, 24, 22, 30, tzinfo=UTC)) == date(2026, 10, 25)
    assert metrics.local_day(datetime(2026, 10, 25, 22, 30, tzinfo=UTC)) == date(2026, 10, 25)


async def test_a_received_contact_is_one_fact_per_event_id():
    facts = FakeFacts()
    metrics = MetricsService(repository=facts, timezone="Europe/Amsterdam")
    event = ContactReceived.create(
        source="/tests",
        data=ContactReceivedData(contact_id="c-1", channel=Channel.COUNTER, received_at=datetime(2026, 11, 23, 8, tzinfo=UTC)),
    )
    await metrics.contact_received(event)
    await metrics.contact_received(event)
    assert facts.facts == {event.id: {
        "kind": "received", "day": "2026-11-23", "channel": "counter", "contact_id": "c-1",
        "received_at": datetime(2026, 11, 23, 8, tzinfo=UTC), "acknowledge_due_at": None, "answer_due_at": None,
        "citizen_key": None, "channel_message_id": None,
    }}
