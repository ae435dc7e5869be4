"""Stopping background tasks so that a shutdown always ends.

`task.cancel(); await task` can wait for ever on Python 3.11: a cancel that arrives just as an
`asyncio.wait_for` inside the task finishes (its awaitable done, or its timeout firing) is
swallowed (CPython bpo-42130, fixed in 3.12), and a `while True` loop then simply runs on. Seen
here as CI runs whose teardown never ended. `stop_tasks` cancels again while a task still runs
and gives up, logged, after `within_s`: a service's lifespan ends, and a test's teardown with it.
"""

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

RECANCEL_EVERY_S = 1.0


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
