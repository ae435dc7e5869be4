"""A round-robin TCP load balancer per service, standing in for a Kubernetes Service: the
simulator and the callback service's registry look-ups reach whichever replica is up. A new
connection goes to the next backend that accepts it; a connection whose replica is killed is
cut, as it would be in a cluster, and the client retries."""

import asyncio
import contextlib
import itertools
from collections.abc import Callable


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Balancer:
    def __init__(self, port: int, backends: Callable[[], list[int]]) -> None:
        self.port, self._backends = port, backends
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        backends = self._backends()
        first = next(self._turn)
        for n in range(len(backends)):
            port = backends[(first + n) % len(backends)]
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            except (OSError, asyncio.TimeoutError):
                continue
            await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))
            return
        client_writer.close()  # no replica up: the client sees a closed connection and retries
