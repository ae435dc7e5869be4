"""Run-once jobs across replicas: a lease in the real store, one holder at a time, fencing tokens."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from kcc_shared.leases import Lease
from kcc_shared.periodic import PeriodicJob
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def leases(real_stack):
    client: AsyncMongoClient = AsyncMongoClient(real_stack["mongo"], tz_aware=True, maxPoolSize=32)
    name = unique("test_leases").replace("-", "_")
    yield client[name]["leases"]
    await client.drop_database(name)
    await client.close()


async def test_of_twenty_replicas_one_holds_the_lease_until_it_lapses(leases):
    ttl = timedelta(seconds=30)
    replicas = [Lease(leases, name="retention", holder=f"r{i}", ttl=ttl) for i in range(20)]
    now = datetime.now(UTC)
    tokens = await asyncio.gather(*(lease.acquire(now=now) for lease in replicas))
    assert sorted(t for t in tokens if t is not None) == [1]
    holder = replicas[tokens.index(1)]
    others = [lease for lease in replicas if lease is not holder]

    # The holder renews; the others stay out while the lease lives.
    assert await holder.acquire(now=now + timedelta(seconds=20)) == 1
    assert [await lease.acquire(now=now + timedelta(seconds=40)) for lease in others[:3]] == [None] * 3

    # The holder stops renewing (it crashed): once the lease ran out exactly one other takes it, token 2.
    later = now + timedelta(seconds=51)
    tokens = await asyncio.gather(*(lease.acquire(now=later) for lease in others))
    assert sorted(t for t in tokens if t is not None) == [2]
    assert await holder.acquire(now=later) is None  # fenced: its token is stale

    # A clean stop gives it up at once.
    successor = others[tokens.index(2)]
    await successor.release()
    assert await holder.acquire(now=later) == 3


async def test_a_periodic_job_with_a_lease_runs_on_one_replica(leases):
    runs: dict[str, int] = {"a": 0, "b": 0, "c": 0}

    def job(name: str):
        async def run() -> None:
            runs[name] += 1
        return run

    jobs = [
        PeriodicJob("purge", job(name), interval_s=0.2, first_delay_s=0,
                    lease=Lease(leases, name="purge", holder=name, ttl=timedelta(seconds=5)))
        for name in runs
    ]
    for periodic in jobs:
        periodic.start()
    await asyncio.sleep(2)
    for periodic in jobs:
        await periodic.stop()
    ran = {name: n for name, n in runs.items() if n}
    assert len(ran) == 1 and next(iter(ran.values())) >= 3, runs
