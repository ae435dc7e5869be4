"""`kcc dlq` output and arguments, without a broker."""

from datetime import UTC, datetime

import pytest

from kcc_cli.__main__ import build_parser, main
from kcc_cli.dlq import table
from kcc_shared.deadletters import DeadLetter, Replay


def letter(**overrides) -> DeadLetter:
    fields = dict(
        id="2-17", partition=2, offset=17, dead_lettered_at=datetime(2026, 11, 30, 9, 15, 2, tzinfo=UTC),
        group="kcc-routing", original_topic="kcc.contact.received.v1", original_partition=5, original_offset=1234,
        error="HTTPStatusError: Server error '503 Service Unavailable' for url 'https://backoffice.example/hook'\nmore",
        attempts=4, event_id="e-1", event_type="nl.contactstad.contact.received", replay_of=None, key=b"c-1",
        value=b"{}", headers={},
    )
    return DeadLetter(**{**fields, **overrides})


def test_the_table_has_one_readable_line_per_dead_letter():
    replayed = letter(
        id="0-3", replays=[Replay("0-3", "e-2", "kcc-metrics", "kcc.contact.routed.v1", 1, 88, datetime(2026, 11, 30, 10, 0, tzinfo=UTC), "anna")],
        group="kcc-metrics", event_id="e-2", error="KeyError: 'x'", original_topic="kcc.contact.routed.v1", original_partition=1, original_offset=7,
    )
    lines = table([letter(), replayed]).splitlines()
    assert lines[0].split() == ["ID", "DEAD-LETTERED", "(UTC)", "GROUP", "ORIGINAL", "EVENT", "TYPE", "EVENT", "ID", "TRIES", "REPLAYED", "REASON"]
    assert lines[1].split()[:9] == [
        "2-17", "2026-11-30", "09:15:02", "kcc-routing", "kcc.contact.received.v1[5]@1234",
        "nl.contactstad.contact.received", "e-1", "4", "no",
    ]
    # The reason on one line, cut at 70 characters.
    assert lines[1].endswith("  HTTPStatusError: Server error '503 Service Unavailable' for url 'http…")
    assert lines[2].split()[7:10] == ["4", "2026-11-30", "10:00:00"]
    assert lines[-1] == "2 dead letters"
    assert lines[1].index("HTTPStatusError") == lines[0].index("REASON")  # columns line up


def test_replay_needs_ids_or_all(capsys):
    assert main(["dlq", "replay", "--bootstrap", "127.0.0.1:1"]) == 2
    assert "give dead letter ids or --all" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dlq", "frobnicate"])


def test_an_unreachable_broker_is_a_message_and_exit_code_4(capsys):
    assert main(["dlq", "list", "--bootstrap", "127.0.0.1:1"]) == 4
    assert "kcc dlq: Kafka did not answer" in capsys.readouterr().err
