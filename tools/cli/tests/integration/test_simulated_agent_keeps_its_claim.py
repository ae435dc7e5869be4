"""The simulator's agents renew their claim's lease while they work, on the real stack (routing
in-process with a short lease, real Kafka and store), so a long call is resolved by its agent."""

import asyncio
from datetime import UTC, datetime

import pytest

from kcc_cli.sim import runner
from kcc_cli.sim.client import PlatformClient
from kcc_routing.app import create_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import Channel, ContactReceived, ContactReceivedData
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration


async def test_an_agent_who_works_longer_than_the_lease_keeps_the_contact_and_resolves_it(service_env, monkeypatch):
    service_env("routing")
    monkeypatch.setattr(runner, "RENEW_EVERY_S", 0.3)
    app = create_app(RoutingSettings(lease_s=1.0))
    async with running(app) as routing:
        now = datetime.now(UTC)
        contact_id = unique("c")
        event = ContactReceived.create(
            source="/tests", subject=contact_id, time=now,
            data=ContactReceivedData(contact_id=contact_id, channel=Channel.EMAIL, received_at=now, text="Mijn paspoort is verlopen, hoe vraag ik een nieuw paspoort aan?"),
        )
        assert (await app.state.routing.route(event)).routed.data.decision == "answer_in_kcc"
        client = PlatformClient(clients={"routing": routing}, env={})
        sim = runner.Runner(client, seed=1, speed_up=1.0, departments=[])
        assert await sim._claim(contact_id, "agent-1")

        beat = sim._keep_claim(contact_id, "agent-1")
        await asyncio.sleep(2.5)  # two and a half leases
        other = await client.claim(contact_id, "agent-2")
        assert other.status == 409, other.body  # still agent-1's: the heartbeat kept the lease alive
        sim._stop(beat)
        done = await client.resolve(contact_id, "agent-1", "answered_in_kcc", 150.0)
        assert done.ok, done.body
        assert sim.ledger.claims["renewed"] >= 5
        assert not sim.ledger.errors
