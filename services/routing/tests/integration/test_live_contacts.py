"""Routing hears on the real broker and store that a caller hung up before routing saw the call."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kcc_routing.app import create_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import (
    CALL_EVENTS,
    CONTACT_RECEIVED,
    CallAbandoned,
    CallAbandonedData,
    Channel,
    ContactReceived,
    ContactReceivedData,
)
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration


async def until_consuming(app, *, timeout: float = 60.0) -> None:
    """Publish probe web contacts until routing decided one: its consumers are then live."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    probes: list[str] = []
    while loop.time() < deadline:
        probe_id = unique("probe")
        probes.append(probe_id)
        at = datetime.now(UTC)
        probe = ContactReceived.create(
            source="/tests", subject=probe_id, time=at,
            data=ContactReceivedData(contact_id=probe_id, channel=Channel.WEB, received_at=at, text="probe"),
        )
        await app.state.infra.publisher.publish(probe, topic=CONTACT_RECEIVED)
        for _ in range(10):
            if await app.state.infra.db["decisions"].find_one({"contact_id": {"$in": probes}}):
                return
            await asyncio.sleep(0.2)
    raise AssertionError("routing did not start consuming")


async def test_a_call_abandoned_before_routing_saw_it_never_waits_in_the_queue(service_env):
    service_env("routing")
    app = create_app(RoutingSettings())
    async with running(app) as client:
        await until_consuming(app)
        db = app.state.infra.db
        now = datetime.now(UTC)
        call_id, contact_id = unique("call"), unique("c")
        # The CTI's abandon arrives first (another topic, another partition: no order between them).
        abandoned = CallAbandoned.create(
            source="/tests", subject=call_id, time=now, data=CallAbandonedData(call_id=call_id, wait_s=12, abandoned_at=now + timedelta(seconds=12))
        )
        await app.state.infra.publisher.publish(abandoned, topic=CALL_EVENTS)
        for _ in range(150):
            if await db["closures"].find_one({"_id": f"call:{call_id}"}):
                break
            await asyncio.sleep(0.2)
        closure = await db["closures"].find_one({"_id": f"call:{call_id}"})
        assert closure is not None and (closure["kind"], closure["reason"], closure["contact_id"]) == ("channel", "abandoned", None)

        received = ContactReceived.create(
            source="/tests", subject=contact_id, time=now,
            data=ContactReceivedData(contact_id=contact_id, channel=Channel.TELEPHONE, received_at=now, service_line="algemeen", channel_message_id=call_id),
        )
        await app.state.infra.publisher.publish(received, topic=CONTACT_RECEIVED)
        for _ in range(150):
            if await db["work"].find_one({"_id": contact_id, "status": "closed"}):
                break
            await asyncio.sleep(0.2)
        item = await db["work"].find_one({"_id": contact_id})
        assert item is not None and (item["status"], item["closed_reason"]) == ("closed", "abandoned")
        assert (await db["channel_refs"].find_one({"_id": f"call:{call_id}"}))["contact_id"] == contact_id
        assert (await db["closures"].find_one({"_id": contact_id}))["reason"] == "abandoned"

        queue = (await client.get("/v1/queues", params={"channel": "telephone"})).json()
        assert contact_id not in [entry["contact_id"] for entry in queue["items"]]
        claim = await client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "agent-1"})
        assert claim.status_code == 409 and "hung up" in claim.json()["detail"]["reason"]
        # A redelivered abandon (same event id) is skipped by the consumer's inbox; a replayed
        # one with a new id inserts nothing new either.
        await app.state.routing.call_abandoned(CallAbandoned.create(source="/tests", subject=call_id, time=now, data=abandoned.data))
        assert await db["closures"].count_documents({"_id": {"$in": [contact_id, f"call:{call_id}"]}}) == 2
