"""Periodic background jobs (e.g. the daily retention purge) run inside a service's lifespan.

A job runs once shortly after start-up and then every `interval_s`; a failing run is logged
and tried again at the next interval, never crashing the service. Given a `Lease`, a job runs
on one replica at a time: each round it renews (or takes) the lease, and skips the round when
another replica holds it. Jobs stay idempotent all the same (a purge of what is already purged
changes nothing), since a holder can pause past its lease.
"""

import asyncio
import calendar
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from kcc_shared.leases import Lease
from kcc_shared.tasks import stop_tasks

log = logging.getLogger(__name__)


class PeriodicJob:
    def __init__(
        self, name: str, run: Callable[[], Awaitable[Any]], *, interval_s: float, first_delay_s: float = 60.0,
        lease: Lease | None = None,
    ) -> None:
        self.name, self._run, self._interval_s, self._first_delay_s = name, run, interval_s, first_delay_s
        self._lease = lease
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"periodic-{self.name}")

    async def start_async(self) -> None:
        """`start`, as a lifespan hook."""
        self.start()

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None
            if self._lease is not None and self._lease.token is not None:
                with contextlib.suppress(Exception):  # the store may be gone at shutdown; it lapses then
                    await self._lease.release()

    async def run_once(self) -> Any:
        """Run the job now (tests, an operator's command)."""
        return await self._run()

    async def _loop(self) -> None:
        await asyncio.sleep(self._first_delay_s)
        while True:
            try:
                if self._lease is None or await self._lease.acquire() is not None:
                    result = await self._run()
                    log.info("periodic job ran", extra={"job": self.name, "result": result})
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged; the next interval tries again
                log.exception("periodic job failed", extra={"job": self.name})
            await asyncio.sleep(self._interval_s)


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment `months` calendar months earlier (the 31st becomes the month's last day)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
