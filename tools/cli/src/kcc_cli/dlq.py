"""`kcc dlq list|show|replay`: inspect the dead-letter topic and replay dead letters after a fix.

Talks to Kafka directly (`--bootstrap`, default `KCC_KAFKA_BOOTSTRAP`, else 127.0.0.1:9092).
Exit codes: 0 done, 1 no such dead letter, 2 wrong arguments, 3 replay refused (replayed
before; `--force`), 4 Kafka unreachable.
"""

import argparse
import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from aiokafka.errors import KafkaError

from kcc_shared.deadletters import AlreadyReplayed, DeadLetter, DeadLetterNotFound, DeadLetters, Replay
from kcc_shared.settings import KafkaSettings

NOT_FOUND, REFUSED, UNAVAILABLE = 1, 3, 4
REASON_WIDTH = 70


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers (default: KCC_KAFKA_BOOTSTRAP)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--group", help="only dead letters of this consumer group")
    filters.add_argument("--topic", help="only dead letters from this original topic")
    filters.add_argument("--event-id", help="only dead letters of this event id")

    dlq = subparsers.add_parser("dlq", help="list, show and replay dead letters (kcc.deadletter.v1)")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)

    listing = commands.add_parser("list", parents=[common, filters], help="dead letters with their reason, oldest first")
    listing.add_argument("--pending", action="store_true", help="hide dead letters that were replayed")
    listing.set_defaults(handler=lambda args: _run(_list(args)))

    show = commands.add_parser("show", parents=[common], help="one dead letter with its headers")
    show.add_argument("id", help="dead letter id, <partition>-<offset>")
    show.add_argument("--payload", action="store_true", help="also print the message (it may hold personal data)")
    show.set_defaults(handler=lambda args: _run(_show(args)))

    replay = commands.add_parser(
        "replay", parents=[common, filters], help="publish dead letters to their original topic again, after a fix"
    )
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead letter ids; or --all with filters")
    replay.add_argument("--all", action="store_true", help="every matching dead letter not replayed before")
    replay.add_argument("--force", action="store_true", help="replay even when replayed before")
    replay.add_argument("--by", default=None, help="who replays, kept on the receipt (default: the login name)")
    replay.set_defaults(handler=lambda args: _run(_replay(args)))


def _run(coroutine: Any) -> int:
    try:
        return asyncio.run(coroutine)
    except KafkaError as exc:
        print(f"kcc dlq: Kafka did not answer: {exc!r}", file=sys.stderr)
        return UNAVAILABLE


def _store(args: argparse.Namespace) -> DeadLetters:
    bootstrap = args.bootstrap or KafkaSettings().bootstrap
    return DeadLetters(bootstrap=bootstrap, client_id="kcc-cli-dlq")


async def _list(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    letters = await _store(args).list(group=args.group, topic=args.topic, event_id=args.event_id, pending_only=args.pending)
    if args.json:
        json.dump([letter.summary() for letter in letters], out, indent=2)
        out.write("\n")
    else:
        out.write(table(letters) + "\n")
    return 0


async def _show(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        letter = await _store(args).get(args.id)
    except DeadLetterNotFound as exc:
        print(f"kcc dlq: {exc}", file=sys.stderr)
        return NOT_FOUND
    details = letter.details(payload=args.payload)
    if args.json:
        json.dump(details, out, indent=2)
        out.write("\n")
        return 0
    for name, value in details.items():
        if name == "headers":
            out.write("headers:\n" + "".join(f"  {k}: {v}\n" for k, v in sorted(value.items())))
        elif name == "replays":
            out.write("replays:\n" + "".join(f"  {_replay_line(Replay(**{**r, 'replayed_at': _dt(r['replayed_at'])}))}\n" for r in value) if value else "replays: none\n")
        else:
            out.write(f"{name}: {value}\n")
    return 0


async def _replay(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if bool(args.ids) == bool(args.all):
        print("kcc dlq replay: give dead letter ids or --all (with --group/--topic/--event-id)", file=sys.stderr)
        return 2
    store, by = _store(args), args.by or _login()
    receipts: list[Replay] = []
    refused: list[str] = []
    code = 0
    if args.all:
        receipts = await store.replay_all(replayed_by=by, group=args.group, topic=args.topic, event_id=args.event_id, force=args.force)
    for dead_letter_id in args.ids:
        try:
            receipts.append(await store.replay(dead_letter_id, replayed_by=by, force=args.force))
        except DeadLetterNotFound as exc:
            print(f"kcc dlq: {exc}", file=sys.stderr)
            code = max(code, NOT_FOUND)
        except AlreadyReplayed as exc:
            print(f"kcc dlq: refused: {exc}", file=sys.stderr)
            refused.append(dead_letter_id)
            code = REFUSED
    if args.json:
        json.dump({"replayed": [r.as_json() for r in receipts], "refused": refused}, out, indent=2)
        out.write("\n")
    else:
        for receipt in receipts:
            out.write(f"replayed {_replay_line(receipt)}\n")
        out.write(f"{len(receipts)} replayed" + (f", {len(refused)} refused" if refused else "") + "\n")
    return code


def _replay_line(r: Replay) -> str:
    return (
        f"{r.dead_letter_id} -> {r.topic} partition {r.partition} offset {r.offset} "
        f"(event {r.event_id or '-'}, group {r.group or '-'}) at {r.replayed_at.isoformat(timespec='seconds')} by {r.replayed_by}"
    )


def table(letters: list[DeadLetter]) -> str:
    """A fixed-width table, one dead letter a line."""
    header = ("ID", "DEAD-LETTERED (UTC)", "GROUP", "ORIGINAL", "EVENT TYPE", "EVENT ID", "TRIES", "REPLAYED", "REASON")
    rows = [
        (
            letter.id,
            letter.dead_lettered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            letter.group or "-",
            f"{letter.original_topic or '?'}[{_dash(letter.original_partition)}]@{_dash(letter.original_offset)}",
            letter.event_type or "-",
            letter.event_id or "-",
            _dash(letter.attempts),
            letter.replays[-1].replayed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if letter.replays else "no",
            _shorten(letter.error, REASON_WIDTH),
        )
        for letter in letters
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]
    lines.append(f"{len(rows)} dead letter{'s' if len(rows) != 1 else ''}")
    return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "kcc-cli"


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)
