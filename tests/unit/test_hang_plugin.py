"""The hang plugin ends an async test that would hang, before pytest-timeout, and the run goes on."""

import textwrap

HUNG = textwrap.dedent('''
    import asyncio

    async def waits_for_ever():
        await asyncio.Event().wait()

    async def test_hangs():
        await waits_for_ever()

    async def test_after():
        assert True
''')


def test_a_hung_async_test_is_reported_and_cancelled_and_the_next_one_runs(pytester):
    pytester.makepyfile(test_hung=HUNG)
    # Timeout 22 s: the plugin acts 20 s before it, at 2 s; pytest-timeout itself would wait 22.
    result = pytester.runpytest_subprocess(
        "-p", "kcc_shared.pytest_hangs", "-p", "no:cacheprovider", "-o", "timeout=22", "-o", "asyncio_mode=auto"
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([  # in the order pytest prints them: the failure, then its captured stderr
        "*CancelledError: hung until shortly before the test timeout*",
        "*asyncio tasks, 20 s before the test's timeout: cancelling the test*",
        "*test_hung.py:* in waits_for_ever*",
    ])
    assert result.duration < 15, result.duration  # well before the 22 s timeout


HUNG_TEARDOWN = textwrap.dedent('''
    import asyncio

    import pytest

    async def closes_for_ever():
        await asyncio.Event().wait()

    @pytest.fixture
    async def server():
        yield
        await closes_for_ever()

    async def test_uses_a_server(server):
        assert True
''')


def test_a_teardown_that_hangs_prints_what_it_waits_on_before_the_timeout(pytester):
    pytester.makepyfile(test_hung_teardown=HUNG_TEARDOWN)
    result = pytester.runpytest_subprocess(
        "-p", "kcc_shared.pytest_hangs", "-p", "no:cacheprovider", "-o", "timeout=22", "-o", "asyncio_mode=auto",
        "-o", "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1, errors=1)  # pytest-timeout still ends the teardown
    result.stdout.fnmatch_lines([
        "*asyncio tasks, 20 s before the test's timeout: in a teardown*",
        "*test_hung_teardown.py:* in closes_for_ever*",
    ])
