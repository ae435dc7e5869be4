"""Pytest plugin with fixtures for the real stack (Kafka + MongoDB-compatible store).

Integration tests use the broker and store that `deploy/local/stack.sh up` (or docker compose)
started; each test gets its own database names and consumer groups so runs never share state.
`private_kafka` starts a second, disposable broker for tests that stop and restart it.

Authentication in tests: at start-up the plugin generates a test key pair and webhook secrets
and puts them in the environment (`KCC_AUTH_*`, `KCC_WEBHOOK_SECRETS`), so every app a test
builds, in process or as a subprocess, accepts the test tokens. `running(app)` yields a
client carrying a token with every role that signs webhook requests; `running(app, roles=[...])`
narrows it and `roles=None` sends no token. Plain httpx calls from a test to a loopback address
or an in-process ASGI app get the same all-roles token and signatures unless they carry their
own `Authorization` header or `auth=` (e.g. `NO_AUTH`); calls that a service or the CLI makes
(its code is on the stack) get nothing, so a missing service token fails the test.
`credentials()` mints other tokens.
"""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from kcc_shared.access import webhook_paths
from kcc_shared.devauth import CHANNELS, DevKeys
from kcc_shared.queryplans import PlanRecorder
from kcc_shared.webhooks import SIGNATURE_HEADER, FreshSigner

KAFKA_BOOTSTRAP = os.environ.get("KCC_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO_URI = os.environ.get("KCC_MONGO_URI", "mongodb://127.0.0.1:27017")


# --- authentication -----------------------------------------------------------------------------

# Every role the platform knows, for the default test client (departments the tests use too).
ALL_ROLES = (
    "agent", "ops", "admin", "service:test", *(f"service:{name}" for name in ("intake", "routing", "callback", "metrics")),
    *(f"integrator:{c}" for c in CHANNELS),
    *(f"department:{d}" for d in ("kcc", "burgerzaken", "belastingen", "sozawe", "milieudienst", "ro-ez", "algemeen")),
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_credentials: dict[str, Any] = {}


def credentials() -> DevKeys:
    """The test session's key pair and webhook secrets (the services trust them)."""
    if "keys" not in _credentials:
        directory = Path(tempfile.mkdtemp(prefix="kcc-test-auth-"))
        keys = DevKeys.generate(issuer="https://auth.contact-stad.test/issuer")
        keys.save(directory)
        _credentials.update(keys=keys, dir=directory)
    return _credentials["keys"]


class TestAuth(httpx.Auth):
    """A bearer token (unless None) plus a webhook signature on webhook paths."""

    __test__ = False  # not a test class
    requires_request_body = True

    def __init__(self, token: str | None, *, sign_webhooks: bool = True) -> None:
        self.token = token
        self._paths = webhook_paths() if sign_webhooks else {}
        self._signer = FreshSigner()

    def auth_flow(self, request: httpx.Request):
        if self.token is not None and "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {self.token}"
        source = self._paths.get(request.url.path)
        if source is not None and SIGNATURE_HEADER not in request.headers:
            request.headers.update(self._signer.sign(credentials().webhook_secrets[source], request.content))
        yield request


NO_AUTH = TestAuth(None, sign_webhooks=False)


def client_auth(roles: "tuple[str, ...] | list[str] | None" = ALL_ROLES, *, sign_webhooks: bool = True) -> TestAuth:
    """httpx auth with a fresh test token for `roles` (None: no token)."""
    token = None if roles is None else credentials().token(roles, subject="test-client")
    return TestAuth(token, sign_webhooks=sign_webhooks)


# A service or the CLI calling another service must bring its own token, in tests as in
# production: the default token is only for calls a test makes itself.
PLATFORM_PACKAGES = frozenset({"kcc_intake", "kcc_routing", "kcc_callback", "kcc_metrics", "kcc_cli", "kcc_desktop"})


def _called_by_platform_code() -> bool:
    frame = sys._getframe(2)  # noqa: SLF001 - who is building this request
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] in PLATFORM_PACKAGES:
            return True
        frame = frame.f_back
    return False


def _install_default_test_auth() -> None:
    """Make unauthenticated httpx calls of a test to a local service carry the all-roles token.

    Tests written before authentication (and the e2e tests that start real processes) post
    with plain httpx; this keeps them working. It patches a private httpx method (httpx is
    pinned), and only while the test session runs."""
    from httpx._client import BaseClient

    original = BaseClient._build_request_auth
    if getattr(original, "_kcc_test_auth", False):
        return
    default = client_auth()

    def build_request_auth(self, request, auth=httpx._client.USE_CLIENT_DEFAULT):
        chosen = original(self, request, auth)
        local = request.url.host in LOOPBACK or isinstance(getattr(self, "_transport", None), httpx.ASGITransport)
        if type(chosen) is httpx.Auth and local and "authorization" not in request.headers and not _called_by_platform_code():
            return default
        return chosen

    build_request_auth._kcc_test_auth = True  # type: ignore[attr-defined]
    BaseClient._build_request_auth = build_request_auth  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    keys = credentials()
    os.environ.update(keys.env(_credentials["dir"]))
    for name in ("KCC_AUTH_JWKS_URL", "KCC_AUTH_PUBLIC_KEY_FILE"):
        os.environ.pop(name, None)
    # Tests post in bursts from one client; the rate limit has tests of its own.
    os.environ["KCC_INTAKE_RATE_LIMIT__PER_SECOND"] = "100000"
    os.environ["KCC_INTAKE_RATE_LIMIT__BURST"] = "100000"
    # The callback service asks intake's registry with a token of its own (privacy work).
    os.environ["KCC_CALLBACK_REGISTRY_TOKEN"] = keys.token(["service:callback"], subject="service-callback", ttl_s=86_400)
    _install_default_test_auth()


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = _credentials.get("dir")
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_past_day() -> "date":
    """A day no other test run is likely to have used, so per-day counts start at zero even
    though the topics keep earlier runs' events."""
    return date(1900, 1, 1) + timedelta(days=uuid.uuid4().int % 70_000)


def _reachable(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def real_stack() -> dict[str, str]:
    """The running broker and store; fails loudly when they are not up."""
    mongo_address = MONGO_URI.split("://", 1)[1].split("/", 1)[0]
    for name, address in (("Kafka", KAFKA_BOOTSTRAP.split(",")[0]), ("the store", mongo_address)):
        if not _reachable(address):
            pytest.fail(f"{name} is not reachable at {address}: start it with `make stack-up`", pytrace=False)
    return {"kafka": KAFKA_BOOTSTRAP, "mongo": MONGO_URI}


@pytest.fixture
async def planned_store(real_stack: dict[str, str]) -> AsyncIterator[tuple[AsyncMongoClient, PlanRecorder]]:
    """A client on the real store whose selecting commands are recorded, to be explained."""
    recorder = PlanRecorder()
    client: AsyncMongoClient = AsyncMongoClient(real_stack["mongo"], tz_aware=True, event_listeners=[recorder])
    try:
        yield client, recorder
    finally:
        await client.close()


@pytest.fixture
def service_env(real_stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, str]]:
    """Point a service at the real stack with its own database and consumer group.

    Every run's names are unique, so databases are left in place; `make stack-reset` clears them."""

    def configure(service: str, *, bootstrap: str | None = None) -> dict[str, str]:
        prefix = f"KCC_{service.upper()}_"
        env = {
            "KCC_KAFKA_BOOTSTRAP": bootstrap or real_stack["kafka"],
            "KCC_MONGO_URI": real_stack["mongo"],
            f"{prefix}MONGO_DATABASE": unique(f"test_{service}").replace("-", "_"),
            f"{prefix}GROUP_ID": unique(f"test-{service}"),
            "KCC_CONSUMER_BACKOFF_INITIAL_S": "0.05",
            "KCC_CONSUMER_BACKOFF_MAX_S": "0.5",
            # A fresh group reads from the end, not through every earlier run's events;
            # `running` waits until the consumers are positioned, so nothing is missed.
            "KCC_CONSUMER_AUTO_OFFSET_RESET": "latest",
            "KCC_KAFKA_PUBLISH_TIMEOUT_S": "5",
            "KCC_MONGO_MAX_POOL_SIZE": os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "2"),  # as deploy/local runs it
            f"{prefix}STARTUP_TIMEOUT_S": "30",
            # Listeners a service may open besides HTTP (intake's SMTP): any free port.
            f"{prefix}SMTP__PORT": "0",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return configure


@asynccontextmanager
async def running(
    app: FastAPI, *, roles: "tuple[str, ...] | list[str] | None" = ALL_ROLES, sign_webhooks: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (broker, store, topics), wait until it is ready (consumers
    positioned), and talk to it over ASGI with a token for `roles` (default: every role;
    None: no token), signing webhook requests unless `sign_webhooks=False`."""
    async with app.router.lifespan_context(app):
        await app.state.infra.wait_until_ready()
        transport = httpx.ASGITransport(app=app)
        auth = client_auth(roles, sign_webhooks=sign_webhooks)
        async with httpx.AsyncClient(transport=transport, base_url="http://service", auth=auth) as client:
            yield client


class TopicReader:
    """Reads a topic from the offsets it had when `start` ran, without a consumer group."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> "TopicReader":
        await self._consumer.start()
        partitions = await self._wait_for_partitions()
        assignment = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(assignment)
        end = await self._consumer.end_offsets(assignment)
        for tp in assignment:
            self._consumer.seek(tp, end[tp])
        return self

    async def _wait_for_partitions(self) -> set[int]:
        for _ in range(100):
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                return partitions
            await self._consumer._client.force_metadata_update()  # noqa: SLF001 - no public call
            await asyncio.sleep(0.1)
        raise AssertionError(f"topic {self.topic} does not exist")

    async def read(
        self, *, count: int, match: Callable[[ConsumerRecord], bool] = lambda _: True, timeout: float = 15.0
    ) -> list[ConsumerRecord]:
        """Return matching records once `count` arrived, or all that came within `timeout`."""
        found: list[ConsumerRecord] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            batches = await self._consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            found.extend(r for records in batches.values() for r in records if match(r))
        return found

    async def stop(self) -> None:
        try:
            await self._consumer.stop()
        except asyncio.CancelledError:
            # aiokafka's fetcher re-raises the cancellation of its own fetch tasks when they were
            # backing off after a broker outage; only a cancellation of *this* task must propagate.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


@pytest.fixture
async def topic_reader(real_stack: dict[str, str]) -> AsyncIterator[Callable[..., Any]]:
    readers: list[TopicReader] = []

    async def open_reader(topic: str, *, bootstrap: str | None = None) -> TopicReader:
        reader = await TopicReader(bootstrap or real_stack["kafka"], topic).start()
        readers.append(reader)
        return reader

    yield open_reader
    for reader in readers:
        await reader.stop()


@dataclass
class PrivateKafka:
    """A disposable single-node broker of our own, for tests that stop and restart Kafka."""

    script: Path
    env: dict[str, str]
    bootstrap: str

    def _run(self, command: str) -> None:
        subprocess.run(["bash", str(self.script), command], env=self.env, check=True, timeout=180)

    def start(self) -> None:
        self._run("kafka-up")

    def stop(self) -> None:
        self._run("kafka-down")

    def kill(self) -> None:
        """End the broker at once (SIGKILL), as a crash or an OOM kill would; `start` brings it back."""
        pid_file = Path(self.env["KCC_STACK_DIR"]) / "kafka" / "pid"
        pid = int(pid_file.read_text())
        os.kill(pid, 9)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        pid_file.unlink(missing_ok=True)


@pytest.fixture
def private_kafka(request: pytest.FixtureRequest, tmp_path: Path) -> PrivateKafka:
    script = request.config.rootpath / "deploy" / "local" / "stack.sh"
    for attempt in range(3):  # a port found free can be taken before the broker binds it
        port = _free_port_pair()
        env = {**os.environ, "KCC_KAFKA_PORT": str(port), "KCC_STACK_DIR": str(tmp_path / f"stack{attempt}")}
        broker = PrivateKafka(script=script, env=env, bootstrap=f"127.0.0.1:{port}")
        try:
            broker.start()
        except subprocess.CalledProcessError:
            broker.stop()
            continue
        request.addfinalizer(broker.stop)
        return broker
    raise RuntimeError("could not start a private Kafka broker on three port pairs")


def _free_port_pair() -> int:
    """A port p with p+1 free too (the broker's controller listens on p+1), both bound at once."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair")


class WebhookReceiver:
    """A tiny real HTTP endpoint (a department's back-office) that records what is POSTed to
    `/hook`, with the headers, and answers `status` (change it to make deliveries fail or
    succeed); any other path is a 404, as for a misconfigured webhook URL."""

    def __init__(self, *, status: int = 204) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import json

        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = head.split(" ", 2)[1] if head.count(" ") >= 2 else ""
        status = self.status if path == "/hook" else 404
        if status < 300:
            self.received.append((headers, json.loads(body)))
        writer.write(f"HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    await receiver.stop()


class RelaySink:
    """A real SMTP server standing in for the municipality's mail relay: it keeps what it
    receives (the parsed message and the envelope sender). `refuse(n, match)` makes it answer
    451 to the next n messages that match, as a busy relay does."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.envelope_senders: list[str] = []
        self.refused: list[Any] = []
        self._refusals: list[list[Any]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    def refuse(self, times: int, match: Callable[[Any], bool]) -> None:
        self._refusals.append([times, match])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        for refusal in self._refusals:
            if refusal[0] > 0 and refusal[1](message):
                refusal[0] -= 1
                self.refused.append(message)
                return "451 4.3.0 Relay busy, try again later"
        self.messages.append(message)
        self.envelope_senders.append(envelope.mail_from)
        return "250 OK"

    async def start(self) -> "RelaySink":
        from aiosmtpd.smtp import SMTP  # intake's dependency; only tests that send mail start a sink

        def session() -> Any:
            protocol = SMTP(self)
            self._sessions.append(protocol)
            return protocol

        self._sessions: list[Any] = []
        self._server = await asyncio.get_running_loop().create_server(session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and end the sessions still open: a client that keeps its connection
        (or one cut off mid-session) must not hold the test's teardown (`wait_closed` waits for
        every connection)."""
        if self._server is None:
            return
        self._server.close()
        for protocol in self._sessions:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)


@pytest.fixture
async def relay_sink() -> AsyncIterator[RelaySink]:
    sink = await RelaySink().start()
    yield sink
    await sink.stop()
