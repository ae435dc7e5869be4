"""/readyz follows the broker: 503 with the reason while it is down, 200 again once it is back,
without restarting the services (a broker of our own, so the shared one keeps running)."""

import asyncio
from contextlib import AsyncExitStack

import pytest

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.testing import running

pytestmark = pytest.mark.e2e


async def readiness(clients) -> dict[str, tuple[int, dict]]:
    responses = await asyncio.gather(*(c.get("/readyz") for c in clients.values()))
    return {name: (r.status_code, r.json()) for name, r in zip(clients, responses)}


async def wait_until(clients, status: int, timeout: float) -> dict[str, tuple[int, dict]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        states = await readiness(clients)
        if all(code == status for code, _ in states.values()) or asyncio.get_running_loop().time() > deadline:
            return states
        await asyncio.sleep(0.5)


async def test_readyz_reports_a_stopped_broker_and_recovers(service_env, private_kafka):
    for service in ("intake", "routing", "callback", "metrics"):
        service_env(service, bootstrap=private_kafka.bootstrap)
    apps = {
        "intake": intake_app(IntakeSettings()),
        "routing": routing_app(RoutingSettings()),
        "callback": callback_app(CallbackSettings()),
        "metrics": metrics_app(MetricsSettings()),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}
        states = await readiness(clients)
        assert {name: code for name, (code, _) in states.items()} == dict.fromkeys(apps, 200)
        # Every service consumes: intake too (the erasure topics).
        for name in ("intake", "routing", "callback", "metrics"):
            own = {"outbox": "ok"} if name == "intake" else {}
            assert states[name][1]["checks"] == {"kafka": "ok", "store": "ok", "consumers": "ok", **own}

        await asyncio.to_thread(private_kafka.stop)
        states = await wait_until(clients, 503, timeout=20)
        for name, (code, body) in states.items():
            assert code == 503, (name, body)
            assert body["status"] == "unavailable"
            assert body["checks"]["kafka"].startswith(f"kafka unreachable at {private_kafka.bootstrap}")
            assert body["checks"]["store"] == "ok"

        # A contact posted meanwhile is still accepted: it waits in intake's outbox.
        down = await clients["intake"].post(
            "/v1/channels/web/submissions",
            json={"form_id": "contactformulier", "submission_id": "while-down", "subject": "Afvalpas", "message": "Kwijt."},
        )
        assert down.status_code == 202, down.text
        assert down.json()["published"] is False

        await asyncio.to_thread(private_kafka.start)
        states = await wait_until(clients, 200, timeout=60)
        assert {name: code for name, (code, _) in states.items()} == dict.fromkeys(apps, 200), states

        # The services did not just report ready: what intake accepted meanwhile and a new
        # contact leave its outbox for the broker.
        response = await clients["intake"].post(
            "/v1/channels/web/submissions",
            json={"form_id": "contactformulier", "subject": "Afvalpas", "message": "Gevonden."},
        )
        assert response.status_code == 202, response.text
        pending = None
        for _ in range(100):
            metrics = (await clients["intake"].get("/metrics")).text
            pending = next(line for line in metrics.splitlines() if line.startswith("kcc_intake_outbox_pending "))
            if pending.endswith(" 0.0"):
                break
            await asyncio.sleep(0.3)
        assert pending == "kcc_intake_outbox_pending 0.0"
