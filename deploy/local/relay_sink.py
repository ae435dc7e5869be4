"""A relay sink for the local stack: an SMTP server on loopback that accepts what intake sends
(acknowledgements, answers) and keeps each message as an .eml file, so a developer (or a test
against `make up`) can read what the citizen would have received. Nothing is forwarded.

    python deploy/local/relay_sink.py --port 2526 --dir .stack/local/mail

Each message is written to <dir>/<UTC time>-<n>.eml with an `X-Envelope-From` line first (the
bounce address: `bounces+<message>@…`), so a delivery status notification can be made for it."""

import argparse
import asyncio
import itertools
import signal
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.smtp import SMTP


class Maildir:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{next(self.count)}.eml"
        head = f"X-Envelope-From: <{envelope.mail_from}>\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        (self.directory / name).write_bytes(head + (envelope.original_content or envelope.content))
        print(f"[relay-sink] kept {name} for {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 OK kept"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    sink = Maildir(args.dir)
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(sink, hostname="relay-sink"), args.host, args.port)
    print(f"[relay-sink] listening on {args.host}:{server.sockets[0].getsockname()[1]}, keeping mail in {args.dir}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
