"""Readiness of the replicas left running: while siblings are killed and restarted (and their
groups rebalance), every running replica's `/readyz` is asked once a second and must say 200.

A replica being killed or still starting is not asked, nor is anyone while the broker or the
store is stopped (then 503 is the right answer) and for `grace_s` after it is back.
"""

import asyncio
import contextlib
import time
from datetime import datetime

import httpx

from kcc_cli.chaos.fleet import Replica


class ReadinessWatch:
    def __init__(
        self, replicas: list[Replica], restarting: set[str], *, timeout_s: float = 3.0, grace_s: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._replicas, self._restarting, self._transport = replicas, restarting, transport
        self._timeout_s, self._grace_s = timeout_s, grace_s
        self._outages = 0
        self._excused_until = 0.0
        self.polls = 0
        self.unanswered = 0
        self.not_ready: list[str] = []

    def outage_began(self) -> None:
        self._outages += 1

    def outage_ended(self) -> None:
        self._outages -= 1
        self._excused_until = time.monotonic() + self._grace_s

    def _excused(self) -> bool:
        return self._outages > 0 or time.monotonic() < self._excused_until

    def _running(self, replica: Replica) -> bool:
        return replica.alive() and replica.name not in self._restarting

    async def run(self, until: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=self._timeout_s, transport=self._transport) as client:
            while not until.is_set():
                if not self._excused():
                    await asyncio.gather(*(self._ask(client, r) for r in self._replicas if self._running(r)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(until.wait(), 1.0)

    async def _ask(self, client: httpx.AsyncClient, replica: Replica) -> None:
        try:
            response = await client.get(f"{replica.url}/readyz")
        except httpx.HTTPError:
            if self._running(replica) and not self._excused():
                self.unanswered += 1
            return
        if not self._running(replica) or self._excused():  # killed, or an outage began, meanwhile
            return
        self.polls += 1
        if response.status_code != 200:
            self.not_ready.append(f"{datetime.now():%H:%M:%S} {replica.name}: {response.status_code} {response.text[:160]}")

    def lines(self) -> list[str]:
        out = [
            f"Readiness of running replicas (outside outages): {self.polls} answers, {len(self.not_ready)} not 200, "
            f"{self.unanswered} unanswered within {self._timeout_s:g} s"
        ]
        return out + [f"  {line}" for line in self.not_ready[:20]]
