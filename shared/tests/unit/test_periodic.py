"""The periodic-job helper: runs on schedule, survives a failing run, stops cleanly."""

import asyncio
from datetime import UTC, datetime

from kcc_shared.periodic import PeriodicJob, months_before


async def test_a_job_runs_repeatedly_and_a_failing_run_does_not_stop_it():
    runs: list[int] = []

    async def job() -> int:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("the store was away")
        return len(runs)

    periodic = PeriodicJob("test", job, interval_s=0.01, first_delay_s=0)
    periodic.start()
    for _ in range(200):
        if len(runs) >= 4:
            break
        await asyncio.sleep(0.01)
    await periodic.stop()
    assert len(runs) >= 4  # the second run failed, the third and fourth still came
    stopped_at = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == stopped_at
    assert await periodic.run_once() == stopped_at + 1


def test_months_before_keeps_the_time_and_clamps_to_the_months_last_day():
    assert months_before(datetime(2026, 11, 29, 9, 30, tzinfo=UTC), 12) == datetime(2025, 11, 29, 9, 30, tzinfo=UTC)
    assert months_before(datetime(2024, 3, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)
