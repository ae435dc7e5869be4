"""A service's stop ends even when a step of it never would (aiokafka's producer flush after a
broker outage was seen to wait for ever): each step gets a bounded time, the others still run."""

import asyncio
import logging
import time

from kcc_shared import runtime
from kcc_shared.runtime import Infrastructure
from kcc_shared.settings import ServiceSettings


async def test_a_stop_step_that_never_ends_is_given_up_and_the_rest_still_closes(monkeypatch, caplog):
    monkeypatch.setattr(runtime, "SHUTDOWN_STEP_TIMEOUT_S", 0.2)
    infra = Infrastructure.build(ServiceSettings(service_name="probe", port=8999, mongo_database="probe", group_id="probe"))
    closed: list[str] = []

    async def flush_for_ever() -> None:
        await asyncio.Event().wait()

    real_close = infra.mongo.close

    async def close_store() -> None:
        closed.append("store")
        await real_close()

    monkeypatch.setattr(infra.broker, "stop", flush_for_ever)
    monkeypatch.setattr(infra.mongo, "close", close_store)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="kcc_shared.tasks"):
        await infra.close()
    assert time.monotonic() - started < 2.0
    assert closed == ["store"]
    [record] = [r for r in caplog.records if r.getMessage().startswith("step did not finish in time")]
    assert record.step == "shutdown: broker"
