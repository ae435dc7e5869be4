"""Pytest plugin: an async test that hangs is reported and cancelled before its timeout.

pytest-timeout prints the threads' stacks, but a hanging async test sits in the event loop's
select; the await it hangs on is in a task. And its SIGALRM raises in whatever frame runs:
inside a background task's step asyncio keeps the exception in that task and the test goes on
hanging (seen in CI). So 20 s before the timeout this prints every task's chain of awaits into
the test's captured stderr and cancels the test's own task.
"""

import asyncio
import contextlib
import gc
import inspect
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

HANG_REPORT_BEFORE_TIMEOUT_S = 20.0
_running_test: dict[str, Any] = {}


def _print_asyncio_tasks_and_cancel_the_test(_signum: int, _frame: Any) -> None:
    """Print where every asyncio task waits, then cancel the test's own task (see the module)."""
    loop = asyncio._get_running_loop()  # noqa: SLF001 - the main thread's loop, from a signal handler
    if loop is None:
        return
    doing = "cancelling the test" if _running_test.get("name") else "in a teardown"
    print(f"\n+++ asyncio tasks, {HANG_REPORT_BEFORE_TIMEOUT_S:.0f} s before the test's timeout: {doing} +++", file=sys.stderr)
    for task in asyncio.all_tasks(loop):
        print(f"task {task.get_name()}:", file=sys.stderr)
        # Task.print_stack shows one frame of a suspended coroutine; follow what each awaits.
        awaiting: Any = task.get_coro()
        while awaiting is not None:
            frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None) or getattr(awaiting, "ag_frame", None)
            if frame is not None:
                print(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}", file=sys.stderr)
            awaiting = _awaited_by(awaiting)
    for task in asyncio.all_tasks(loop):
        if _running_test.get("name") and getattr(task.get_coro(), "__name__", None) == _running_test["name"]:
            # Thread-safe: it also wakes the loop out of its select (a plain cancel would wait there).
            loop.call_soon_threadsafe(task.cancel, "hung until shortly before the test timeout")


def _awaited_by(awaiting: Any) -> Any:
    """What a coroutine, generator or async generator awaits; through `agen.__anext__()` (a
    fixture's teardown awaits one) to the async generator it steps, which has no public link."""
    for attribute in ("cr_await", "gi_yieldfrom", "ag_await"):
        if (inner := getattr(awaiting, attribute, None)) is not None:
            return inner
    if type(awaiting).__name__ in ("async_generator_asend", "async_generator_athrow"):
        return next((r for r in gc.get_referents(awaiting) if inspect.isasyncgen(r)), None)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """pytest-timeout times setup, call and teardown together: remember when they began."""
    _running_test["started"] = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Shortly before pytest-timeout would fail a test, print the asyncio tasks' stacks and
    cancel an async test's task."""
    with _alarm(item, cancel=getattr(item, "originalname", item.name)):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item):
    """The same for a fixture's teardown that hangs: the stacks show what it waits on (nothing
    is cancelled: the finalizer's task has no name of the test's)."""
    with _alarm(item, cancel=None):
        yield


@contextlib.contextmanager
def _alarm(item: pytest.Item, *, cancel: str | None) -> Iterator[None]:
    try:
        timeout = float(item.config.getini("timeout") or 0)
    except ValueError:  # pytest-timeout not installed
        timeout = 0.0
    spent = time.monotonic() - _running_test.get("started", time.monotonic())
    delay = timeout - HANG_REPORT_BEFORE_TIMEOUT_S - spent
    if timeout <= 0 or delay <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    _running_test["name"] = cancel or ""
    previous = signal.signal(signal.SIGUSR1, _print_asyncio_tasks_and_cancel_the_test)
    alarm = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGUSR1))
    alarm.daemon = True
    alarm.start()
    try:
        yield
    finally:
        alarm.cancel()
        signal.signal(signal.SIGUSR1, previous)
