"""A citizen who goes away (call abandoned, visitor left) leaves the KCC queue; claim leases renew."""

from datetime import UTC, datetime, timedelta

import pytest

from kcc_routing.queues import Conflict
from kcc_shared.contracts import (
    CallAbandoned,
    CallAbandonedData,
    Channel,
    ContactReceived,
    ContactReceivedData,
    CounterVisit,
    CounterVisitData,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PASPOORT = "Mijn paspoort is verlopen, hoe vraag ik een nieuw paspoort aan?"


def live(cid: str, *, channel: Channel, ref: str, at: datetime = NOW) -> ContactReceived:
    return ContactReceived.create(
        source="/tests", subject=cid, time=at,
        data=ContactReceivedData(contact_id=cid, channel=channel, received_at=at, text=PASPOORT, channel_message_id=ref),
    )


def abandoned(call_id: str, at: datetime) -> CallAbandoned:
    return CallAbandoned.create(source="/tests", subject=call_id, time=at, data=CallAbandonedData(call_id=call_id, wait_s=40, abandoned_at=at))


def visit(ticket: str, stage: str, at: datetime, contact_id: str | None = None) -> CounterVisit:
    data = CounterVisitData(ticket_id=ticket, location="stadsbalie", stage=stage, at=at, contact_id=contact_id)
    return CounterVisit.create(source="/tests", subject=ticket, time=at, data=data)


async def queued(h, channel: Channel) -> list[str]:
    return [e.contact_id for e in await h.queues.queue(now=h.clock.now, channel=channel)]


@pytest.mark.parametrize("abandon_first", [False, True], ids=["routed-then-abandoned", "abandoned-before-routed"])
async def test_an_abandoned_call_leaves_the_queue_whichever_topic_is_read_first(harness, abandon_first):
    h = harness(NOW)
    stays = live("c-stays", channel=Channel.TELEPHONE, ref="call-2")
    await h.routing.route(stays)
    event = live("c-gone", channel=Channel.TELEPHONE, ref="call-1")
    if abandon_first:
        await h.routing.call_abandoned(abandoned("call-1", NOW + timedelta(seconds=40)))
        await h.routing.route(event)
    else:
        await h.routing.route(event)
        assert await queued(h, Channel.TELEPHONE) == ["c-gone", "c-stays"]
        await h.routing.call_abandoned(abandoned("call-1", NOW + timedelta(seconds=40)))
    h.clock.now = NOW + timedelta(minutes=1)
    assert await queued(h, Channel.TELEPHONE) == ["c-stays"]
    assert h.work.items["c-gone"]["status"] == "closed"  # out of the waiting set, so reads stay small
    with pytest.raises(Conflict, match="the caller hung up while waiting"):
        await h.queues.claim(contact_id="c-gone", agent_id="a-1", now=h.clock.now)
    # A redelivered abandon changes nothing; the other call can still be claimed.
    await h.routing.call_abandoned(abandoned("call-1", NOW + timedelta(seconds=40)))
    assert (await h.queues.claim(contact_id="c-stays", agent_id="a-1", now=h.clock.now))["claimed_by"] == "a-1"


async def test_a_visitor_who_left_leaves_the_queue_but_one_called_to_a_desk_stays_claimable(harness):
    h = harness(NOW)
    for cid, ticket in (("c-left", "A001"), ("c-served", "A002")):
        await h.routing.route(live(cid, channel=Channel.COUNTER, ref=ticket))
        await h.routing.counter_visit(visit(ticket, "drawn", NOW, contact_id=cid))
    await h.routing.counter_visit(visit("A001", "left", NOW + timedelta(minutes=30)))
    # A ticket of the same number in another hall, or on another day, is another visit.
    await h.routing.counter_visit(visit("A002", "left", NOW + timedelta(days=1)))
    h.clock.now = NOW + timedelta(minutes=31)
    assert await queued(h, Channel.COUNTER) == ["c-served"]
    assert h.work.closures["c-left"]["reason"] == "left"


async def test_the_holder_renews_its_lease_and_nobody_else_can(harness):
    h = harness(NOW)
    await h.routing.route(live("c-1", channel=Channel.TELEPHONE, ref="call-9"))
    claimed = await h.queues.claim(contact_id="c-1", agent_id="a-1", now=NOW)
    assert claimed["lease_until"] == NOW + timedelta(minutes=5)
    h.clock.now = NOW + timedelta(minutes=4)
    renewed = await h.queues.renew(contact_id="c-1", agent_id="a-1", now=h.clock.now)
    assert renewed["lease_until"] == NOW + timedelta(minutes=9)
    with pytest.raises(Conflict, match="not claimed by a-2"):
        await h.queues.renew(contact_id="c-1", agent_id="a-2", now=h.clock.now)
    h.clock.now = NOW + timedelta(minutes=10)  # renewed too late: the lease ran out
    with pytest.raises(Conflict, match="has expired"):
        await h.queues.renew(contact_id="c-1", agent_id="a-1", now=h.clock.now)


async def test_a_retried_resolve_gives_the_same_event_and_another_resolve_is_refused(harness):
    """A resolve whose answer or publish got lost is retried: the same event (same id, same
    time) comes back to be published again; consumers count it once. A different one is a conflict."""
    h = harness(NOW)
    await h.routing.route(live("c-1", channel=Channel.TELEPHONE, ref="call-9"))
    await h.queues.claim(contact_id="c-1", agent_id="a-1", now=NOW)
    first, queued = await h.queues.resolve(contact_id="c-1", agent_id="a-1", outcome="answered_in_kcc", handle_time_s=120, now=NOW)
    assert [entry["id"] for entry in queued] == [first.id]  # saved in the item's outbox with the resolution
    retried, unsent = await h.queues.resolve(
        contact_id="c-1", agent_id="a-1", outcome="answered_in_kcc", handle_time_s=120, now=NOW + timedelta(seconds=30)
    )
    assert retried.id == first.id and retried.data == first.data
    assert [entry["id"] for entry in unsent] == [first.id]  # not yet sent: the retry sends it
    with pytest.raises(Conflict, match="already resolved"):
        await h.queues.resolve(contact_id="c-1", agent_id="a-1", outcome="transferred", handle_time_s=120, now=NOW)
    with pytest.raises(Conflict, match="already resolved"):
        await h.queues.resolve(contact_id="c-1", agent_id="a-2", outcome="answered_in_kcc", handle_time_s=120, now=NOW)
