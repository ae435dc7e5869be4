"""Live contacts whose citizen goes away, on the real stack (intake, routing and metrics in-process,
real Kafka and store): an abandoned call and a visitor who left drop out of routing's KCC queue and
out of metrics' realtime waiting count, while the others stay; a claimed contact's lease renews."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.e2e
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Clock:
    """Routing's clock: real time plus an offset the test moves (to let a lease run out)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def until(probe: Callable[[], Awaitable[Any]], expected: Any, *, timeout: float = 60.0) -> Any:
    """Poll until `probe()` returns `expected`; the last value otherwise (so the assert shows it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = await probe()
    while value != expected and loop.time() < deadline:
        await asyncio.sleep(0.3)
        value = await probe()
    return value


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def test_a_citizen_who_goes_away_no_longer_waits_in_routing_or_metrics(service_env):
    for service in ("intake", "routing", "metrics"):
        service_env(service)
    clock = Clock()
    apps = {
        "intake": intake_app(IntakeSettings()),
        "routing": routing_app(RoutingSettings(lease_s=120), clock=clock),
        "metrics": metrics_app(MetricsSettings()),
    }
    async with AsyncExitStack() as stack:
        c: dict[str, httpx.AsyncClient] = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}

        async def queued(channel: str) -> set[str]:
            response = await c["routing"].get("/v1/queues", params={"channel": channel, "limit": 200})
            assert response.status_code == 200, response.text
            return {item["contact_id"] for item in response.json()["items"]}

        async def waiting(queue: str) -> int | None:
            rows = (await c["metrics"].get("/v1/realtime")).json()["queues"]
            return next((row["waiting"] for row in rows if row["queue"] == queue), None)

        # --- telephone: two calls offered on the KCC line, one abandoned ----------------------
        now = datetime.now(UTC)
        calls = {name: unique(f"call-{name}") for name in ("gone", "stays")}
        contacts: dict[str, str] = {}
        for name, call_id in calls.items():
            response = await c["intake"].post(
                "/v1/channels/telephone/events",
                json={"event": "offered", "call_id": call_id, "at": iso(now), "dialled_number": "14050", "caller_number": None},
            )
            assert response.status_code == 202, response.text
            contacts[name] = response.json()["contact_id"]
        both = {contacts["gone"], contacts["stays"]}
        assert both <= await until(lambda: queued("telephone"), both), "routing did not queue the offered calls"
        # Metrics' realtime counts live waiting from the call events: both calls wait.
        assert await until(lambda: waiting("telephone:algemeen"), 2) == 2

        abandoned = await c["intake"].post(
            "/v1/channels/telephone/events",
            json={"event": "abandoned", "call_id": calls["gone"], "at": iso(now + timedelta(seconds=45)), "wait_s": 45},
        )
        assert abandoned.status_code == 202, abandoned.text
        assert await until(lambda: queued("telephone"), {contacts["stays"]}) == {contacts["stays"]}
        assert await until(lambda: waiting("telephone:algemeen"), 1) == 1
        refused = await c["routing"].post(f"/v1/queues/items/{contacts['gone']}/claim", json={"agent_id": "agent-1"})
        assert refused.status_code == 409
        assert refused.json()["detail"] == {
            "field": "contact_id", "reason": f"contact {contacts['gone']} is closed: the caller hung up while waiting"
        }

        # --- counter: two tickets drawn late in the evening in a hall of our own, one visitor ---
        # leaves after midnight: ticket numbers restart in the morning, so it is the same visit.
        # (The hour of the run no longer decides whether the visit's two events meet.)
        local = datetime.now(AMSTERDAM)
        drawn_at = datetime.combine(local.date() - timedelta(days=1), time(23, 50), AMSTERDAM)
        hall = unique("hal")
        tickets = {"left": "A001", "stays": "A002"}
        visitors: dict[str, str] = {}
        for name, ticket in tickets.items():
            response = await c["intake"].post(
                "/v1/channels/counter/visits",
                json={"ticket_id": ticket, "location": hall, "stage": "drawn", "at": iso(drawn_at), "service_line": "burgerzaken"},
            )
            assert response.status_code == 202, response.text
            visitors[name] = response.json()["contact_id"]
        both = set(visitors.values())
        assert both <= await until(lambda: queued("counter"), both), "routing did not queue the drawn tickets"
        assert await until(lambda: waiting(f"counter:{hall}"), 2) == 2

        left = await c["intake"].post(
            "/v1/channels/counter/visits",
            json={"ticket_id": tickets["left"], "location": hall, "stage": "left", "at": iso(drawn_at + timedelta(minutes=20))},
        )
        assert left.status_code == 202, left.text
        assert await until(lambda: queued("counter"), {visitors["stays"]}) == {visitors["stays"]}
        assert await until(lambda: waiting(f"counter:{hall}"), 1) == 1

        # --- the remaining caller is answered: the agent's lease renews while the call runs ---
        contact_id = contacts["stays"]
        claimed = await c["routing"].post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "agent-1"})
        assert claimed.status_code == 200, claimed.text
        first_lease = datetime.fromisoformat(claimed.json()["lease_until"])
        clock.offset = timedelta(seconds=100)  # 100 s into the call, 20 s of the lease left
        renewed = await c["routing"].post(f"/v1/queues/items/{contact_id}/lease", json={"agent_id": "agent-1"})
        assert renewed.status_code == 200, renewed.text
        assert datetime.fromisoformat(renewed.json()["lease_until"]) - first_lease >= timedelta(seconds=100)
        other = await c["routing"].post(f"/v1/queues/items/{contact_id}/lease", json={"agent_id": "agent-2"})
        assert other.status_code == 409 and other.json()["detail"]["field"] == "agent_id"
        clock.offset = timedelta(seconds=200)  # past the first lease: without the renewal it would be free again
        assert contact_id not in await queued("telephone")
        taken = await c["routing"].post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "agent-2"})
        assert taken.status_code == 409
        done = await c["routing"].post(
            f"/v1/queues/items/{contact_id}/resolve", json={"agent_id": "agent-1", "outcome": "answered_in_kcc", "handle_time_s": 200}
        )
        assert done.status_code == 200, done.text
        missing = await c["routing"].post("/v1/queues/items/nope/lease", json={"agent_id": "agent-1"})
        assert missing.status_code == 404
