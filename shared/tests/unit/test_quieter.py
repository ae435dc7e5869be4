"""Client-library noise is rate-limited per logger and message; our own lines always pass."""

import logging

from kcc_shared.logs import Quieter


def record(name: str, msg: str) -> logging.LogRecord:
    return logging.makeLogRecord({"name": name, "msg": msg, "levelname": "ERROR", "levelno": logging.ERROR})


def test_a_library_repeating_itself_is_held_back_and_the_next_minute_says_how_much():
    now = [0.0]
    quieter = Quieter(per_minute=3, clock=lambda: now[0])
    noise = [quieter.filter(record("aiokafka.conn", "Unable to connect to node %s")) for _ in range(1000)]
    assert noise.count(True) == 3
    other = record("aiokafka.conn", "Another message")
    assert quieter.filter(other)  # a different message is counted on its own
    ours = [quieter.filter(record("kcc_intake.outbox", "outbox stalled")) for _ in range(100)]
    assert all(ours)
    now[0] = 61.0
    after = record("aiokafka.conn", "Unable to connect to node %s")
    assert quieter.filter(after) and "997 more like this in the last minute were not logged" in after.getMessage()
