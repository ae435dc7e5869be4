"""A stop ends even when a background loop loses a cancel (Python 3.11's wait_for race)."""

import asyncio
import logging

from kcc_shared.tasks import bounded, stop_tasks


async def test_a_loop_that_swallows_the_first_cancels_is_cancelled_again_until_it_ends():
    swallowed = 0

    async def loop_losing_cancels() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed == 2:
                    raise
                swallowed += 1  # as a cancel lost inside asyncio.wait_for: the loop runs on

    task = asyncio.create_task(loop_losing_cancels())
    await asyncio.sleep(0.02)
    await stop_tasks([task, None], within_s=10)
    assert task.cancelled() and swallowed == 2


async def test_a_task_that_never_stops_is_left_after_the_deadline_and_named_in_the_log(caplog):
    stop = asyncio.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn-loop")
    await asyncio.sleep(0.02)  # running: a task cancelled before its first step never gets to catch it
    with caplog.at_level(logging.ERROR, logger="kcc_shared.tasks"):
        await stop_tasks([task], within_s=0.3)
    assert not task.done()
    assert any(getattr(r, "tasks", None) == ["stubborn-loop"] for r in caplog.records), caplog.records
    stop.set()
    await task


async def test_a_task_that_already_failed_is_collected_and_its_error_logged(caplog):
    async def fails() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(fails(), name="failing")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="kcc_shared.tasks"):
        await stop_tasks([task])
    assert "ValueError('broken')" in [getattr(r, "error", None) for r in caplog.records]


async def test_a_step_that_catches_its_cancel_does_not_hold_the_caller_past_the_deadline(caplog):
    """asyncio.wait_for would wait here for ever: it waits for the cancelled work to end."""
    release = asyncio.Event()

    async def close_that_ignores_cancels() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue

    loop = asyncio.get_running_loop()
    began = loop.time()
    with caplog.at_level(logging.ERROR, logger="kcc_shared.tasks"):
        assert await bounded(close_that_ignores_cancels(), within_s=0.2, step="closing") is None
    assert loop.time() - began < 5
    assert any(getattr(r, "step", None) == "closing" for r in caplog.records)
    release.set()
    assert await bounded(asyncio.sleep(0, result=7), within_s=1, step="quick") == 7
