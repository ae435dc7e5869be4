"""Stopping background tasks so that a shutdown always ends.

`task.cancel(); await task` can wait for ever on Python 3.11: a cancel that arrives just as an
`asyncio.wait_for` inside the task finishes (its awaitable done, or its timeout firing) is
swallowed (CPython bpo-42130, fixed in 3.12), and a `while True` loop then simply runs on (intake's
delivery loop did, and hung a test's teardown). `stop_tasks` cancels again while a task still
runs and gives up, logged, after `within_s`: a service's lifespan ends, and a test's teardown with it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)

RECANCEL_EVERY_S = 1.0
T = TypeVar("T")


async def stop_tasks(tasks: Iterable[asyncio.Task | None], *, within_s: float = 10.0) -> None:
    """Cancel `tasks` and wait until they ended; cancel again each `RECANCEL_EVERY_S` while one
    still runs; after `within_s` log the ones left and return. Their results and errors are
    collected (nothing is re-raised: a stopping task's error has nowhere to go but the log)."""
    tasks = [task for task in tasks if task is not None]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pending = {task for task in tasks if not task.done()}
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            log.error("background tasks did not stop; left running", extra={"tasks": sorted(t.get_name() for t in pending)})
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY_S, left))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("background task ended with an error", extra={"task": task.get_name(), "error": repr(task.exception())})


async def bounded(awaitable: Awaitable[T], *, within_s: float, step: str) -> T | None:
    """`awaitable`'s result, or None once `within_s` passed (logged). Unlike `asyncio.wait_for`,
    which after its timeout waits for the cancelled work to end, this returns at the deadline: a
    client library's close that does not end when cancelled cannot hold a shutdown (aiokafka's
    producer was seen to flush for ever after a broker outage). What is left is cancelled again
    by `stop_tasks` and let go.
    An error of the awaitable is raised as usual."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=within_s)
    if task in done:
        return task.result()
    log.error("step did not finish in time; going on", extra={"step": step, "timeout_s": within_s})
    await stop_tasks([task], within_s=min(2.0, within_s))
    return None
