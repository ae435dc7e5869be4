"""make chaos asks every running replica's /readyz once a second: a 503 from a sibling counts,
one from a replica being restarted or during a broker or store outage does not."""

import asyncio
from pathlib import Path

import httpx

from kcc_cli.chaos.fleet import Replica
from kcc_cli.chaos.readiness import ReadinessWatch


class Running(Replica):
    up = True

    def alive(self) -> bool:
        return self.up


def replica(name: str, port: int) -> Running:
    service, index = name.split("-")
    return Running(service, int(index), port, {}, Path("."))


async def test_a_sibling_that_is_not_ready_is_counted_and_a_restarting_one_or_an_outage_is_not():
    answers = {8401: 200, 8402: 503, 8403: 503}
    asked: list[int] = []

    def readyz(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.port)
        return httpx.Response(answers[request.url.port], text="ok" if answers[request.url.port] == 200 else "kafka: unreachable")

    replicas = [replica("routing-0", 8401), replica("routing-1", 8402), replica("routing-2", 8403)]
    restarting = {"routing-2"}  # started again after a kill -9, not yet ready: not asked
    watch = ReadinessWatch(replicas, restarting, grace_s=0.0, transport=httpx.MockTransport(readyz))
    over = asyncio.Event()
    task = asyncio.create_task(watch.run(over))
    await asyncio.sleep(0.1)  # the first round
    watch.outage_began()  # the broker stopped: 503 is right now, and nobody is asked
    answers[8401] = 503
    await asyncio.sleep(1.2)
    asked_in_outage = len(asked)
    await asyncio.sleep(1.2)
    assert len(asked) == asked_in_outage
    watch.outage_ended()
    answers[8401] = answers[8402] = 200
    await asyncio.sleep(1.2)
    over.set()
    await task
    assert 8403 not in asked
    assert watch.polls == len(asked) and watch.unanswered == 0
    [not_ready] = watch.not_ready
    assert "routing-1: 503 kafka: unreachable" in not_ready
    assert watch.lines()[0].startswith(f"Readiness of running replicas (outside outages): {watch.polls} answers, 1 not 200")
