"""One rate limit for all replicas: limiters of three replicas share, through the real store,
what each client used; a client that spreads its requests over them gets the service's rate,
not three times it."""

import pytest
from pymongo import AsyncMongoClient

from kcc_shared.limits import RateLimiter, RateLimitSettings, SharedBuckets
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def allowed_over(limiters, syncs, clock: Clock, *, seconds: int, per_second_sent: int, share: bool) -> int:
    """Requests allowed when one client sends `per_second_sent` a second, round-robin over the replicas."""
    allowed, turn = 0, 0
    for _ in range(seconds * 4):  # quarter-second steps; replicas share every step
        for _ in range(per_second_sent // 4):
            allowed += limiters[turn % len(limiters)].take("sub:client") is None
            turn += 1
        clock.now += 0.25
        if share:
            for sync in syncs:
                await sync.sync()
    return allowed


@pytest.mark.parametrize("share", [True, False])
async def test_a_client_spreading_requests_over_three_replicas_gets_one_service_wide_rate(real_stack, share):
    client = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    usage = client[unique("test_limits").replace("-", "_")]["rate_limits"]
    clock = Clock()
    settings = RateLimitSettings(per_second=20, burst=20)
    limiters = [RateLimiter(settings, clock=clock) for _ in range(3)]
    syncs = [SharedBuckets(usage, limiter, replica=f"intake@host:{n}") for n, limiter in enumerate(limiters)]
    await syncs[0].ensure_indexes()
    try:
        allowed = await allowed_over(limiters, syncs, clock, seconds=10, per_second_sent=200, share=share)
    finally:
        await client.close()
    # Alone, each replica allows its own burst plus 20/s: about 3 × (20 + 200) = 660 in 10 s.
    # Shared, the service allows about one rate: 200 over 10 s, plus each replica's first burst
    # (a replica does not charge a client the others' use before it first met it) and one
    # quarter-second of requests per sharing round.
    if share:
        assert 200 <= allowed <= 200 + 3 * 20 + 60, allowed
    else:
        assert allowed >= 600, allowed
