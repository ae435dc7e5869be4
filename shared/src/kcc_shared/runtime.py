"""The composition every service shares: broker + store + tracing + FastAPI in one process.

The FastStream broker runs inside the FastAPI lifespan (FastStream 0.7 deprecates its old
FastAPI router plugin). Each service calls `Infrastructure.build`, registers its handlers with
`subscribe`, adds its routers and hands the result to `create_service_app`.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from pymongo.asynchronous.database import AsyncDatabase
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcc_shared.access import ResourceLoader, document_access, install_access_guard
from kcc_shared.auth import TokenValidator
from kcc_shared.consumer import ConsumerMetrics, DeadLetterSink, EventProcessor, Handler, register
from kcc_shared.contracts import DEAD_LETTER, DEAD_LETTER_REPLAYS, CloudEvent, TopicSpec
from kcc_shared.inbox import Inbox
from kcc_shared.lag import ConsumerLag
from kcc_shared.kafka import EventPublisher, ensure_topics, make_broker
from kcc_shared.leases import holder_name
from kcc_shared.limits import BodySizeLimit, RateLimiter, RateLimitSettings, SharedBuckets, StrictJsonNumbers
from kcc_shared.mongo import make_mongo_client, ping
from kcc_shared.ops import dead_letter_router
from kcc_shared.settings import ServiceSettings
from kcc_shared.tasks import bounded
from kcc_shared.telemetry import make_tracer_provider, scrub_server_span
from kcc_shared.webhooks import WebhookVerifier

log = logging.getLogger(__name__)
SHUTDOWN_STEP_TIMEOUT_S = 15.0  # per step of Infrastructure.close
# Requests still open when a stop begins get this long; then uvicorn closes them and the lifespan
# ends (its default waits for ever). Inside Kubernetes' 30 s grace period, with the steps above.
GRACEFUL_SHUTDOWN_S = 10.0

PROBE_TIMEOUT_S = 2.0


@dataclass
class Infrastructure:
    """The infrastructure clients of one service, built once from its settings."""

    settings: ServiceSettings
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    broker: KafkaBroker
    mongo: AsyncMongoClient
    db: AsyncDatabase
    publisher: EventPublisher
    inbox: Inbox
    consumer_metrics: ConsumerMetrics
    topics: list[TopicSpec] = field(default_factory=list)
    lag: ConsumerLag | None = None
    # A service's own readiness checks by name: each says "ok" or why not (e.g. intake's outbox).
    checks: dict[str, Callable[[], str]] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: ServiceSettings, *, span_exporter: SpanExporter | None = None) -> "Infrastructure":
        name = settings.service_name
        provider = make_tracer_provider(service_name=name, settings=settings.telemetry, extra_exporter=span_exporter)
        registry = CollectorRegistry()
        broker = make_broker(settings=settings.kafka, service_name=name, tracer_provider=provider, registry=registry)
        mongo = make_mongo_client(settings=settings.mongo, tracer_provider=provider, app_name=name)
        db = mongo[settings.mongo_database]
        return cls(
            settings=settings,
            tracer_provider=provider,
            registry=registry,
            broker=broker,
            mongo=mongo,
            db=db,
            publisher=EventPublisher(broker, timeout_s=settings.kafka.publish_timeout_s),
            inbox=Inbox(db["inbox"]),
            consumer_metrics=ConsumerMetrics(registry),
            topics=[DEAD_LETTER, DEAD_LETTER_REPLAYS],
            lag=ConsumerLag(
                broker=broker, group=settings.group_id, kafka=settings.kafka, registry=registry,
                interval_s=settings.consumer.lag_interval_s,
            ),
        )

    @property
    def source(self) -> str:
        """The CloudEvents `source` of what this service publishes."""
        return f"/kcc/{self.settings.service_name}"

    def produces(self, *topics: TopicSpec) -> None:
        """Declare topics this service publishes to, so start-up creates them."""
        self.topics.extend(t for t in topics if t not in self.topics)

    def subscribe(self, topic: TopicSpec, handler: Handler, *, handles: Iterable[type[CloudEvent]] = ()) -> EventProcessor:
        """Consume `topic` reliably (retries, dead letters, de-duplication) with `handler`."""
        self.produces(topic)
        processor = EventProcessor(
            topic=topic,
            group=self.settings.group_id,
            handler=handler,
            handles=tuple(handles) or topic.events,
            inbox=self.inbox,
            dead_letters=DeadLetterSink(self.broker, timeout_s=self.settings.kafka.publish_timeout_s),
            settings=self.settings.consumer,
            metrics=self.consumer_metrics,
        )
        register(self.broker, processor, auto_offset_reset=self.settings.consumer.auto_offset_reset)
        return processor

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state: "ok" or why not."""
        checks: dict[str, str] = {}
        try:
            ok = await asyncio.wait_for(self.broker.ping(timeout=PROBE_TIMEOUT_S), PROBE_TIMEOUT_S + 0.5)
            checks["kafka"] = "ok" if ok else f"kafka unreachable at {self.settings.kafka.bootstrap}"
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            checks["kafka"] = f"kafka unreachable at {self.settings.kafka.bootstrap}: {exc!r}"
        try:
            await asyncio.wait_for(ping(self.mongo), PROBE_TIMEOUT_S)
            checks["store"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["store"] = f"store unreachable: {type(exc).__name__}"
        if self.broker.subscribers:
            # Running, not "has partitions": a replica beyond the partition count, or one in the
            # middle of a rebalance, still serves HTTP (consumer lag is a metric, not readiness).
            checks["consumers"] = self._consumers_running()
        for name, check in self.checks.items():
            checks[name] = check()
        return checks

    def _consumers_running(self) -> str:
        """"ok" while every subscriber's consumer runs (with or without partitions)."""
        stopped = [
            ", ".join(getattr(subscriber, "topics", None) or ["?"])
            for subscriber in self.broker.subscribers
            if getattr(subscriber, "consumer", None) is None or getattr(subscriber.consumer, "_closed", False)
        ]
        return "ok" if not stopped else f"consumer not running for {'; '.join(stopped)}"

    async def _consumers_positioned(self) -> str:
        """"ok" once every subscriber has its partitions and knows where to read from."""
        waiting = []
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            assignment = consumer.assignment() if consumer is not None else set()
            if not assignment:
                waiting.append(", ".join(getattr(subscriber, "topics", None) or ["?"]))
                continue
            try:
                await asyncio.wait_for(asyncio.gather(*(consumer.position(tp) for tp in assignment)), PROBE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - not positioned yet
                waiting.append(", ".join(sorted({tp.topic for tp in assignment})))
        return "ok" if not waiting else f"waiting for partitions of {'; '.join(waiting)}"

    async def wait_until_ready(self, timeout: float = 60.0) -> None:
        """Block until every readiness check is "ok" and every consumer has its partitions and
        read position (tests use it before publishing, so a group that starts at the end of a
        topic misses nothing)."""
        deadline = time.monotonic() + timeout
        while True:
            checks = await self.readiness()
            if self.broker.subscribers:
                checks["positioned"] = await self._consumers_positioned()
            if all(v == "ok" for v in checks.values()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {checks}")
            await asyncio.sleep(0.2)

    async def wait_for_dependencies(self) -> None:
        """Block start-up until Kafka and the store answer, or fail after the configured time."""
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while True:
            try:
                await ensure_topics(settings=self.settings.kafka, topics=self.topics)
                await ping(self.mongo)
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dependencies not reachable after {self.settings.startup_timeout_s}s: {exc!r}") from exc
                log.warning("waiting for Kafka and the store", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Stop the lag probe, the broker (consumers, then the producer's flush) and the store
        client, each within `SHUTDOWN_STEP_TIMEOUT_S`. aiokafka's producer can wait for ever to
        flush a batch after a broker outage; a stop must still end. Nothing is lost by giving up:
        a publisher counts an event as sent only once the broker acknowledged it (intake's outbox
        keeps the rest, consumers commit only after handling)."""
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [("broker", self.broker.stop), ("store", self.mongo.close)]
        if self.lag is not None:
            steps.insert(0, ("consumer lag", self.lag.stop))
        for name, stop in steps:
            await bounded(stop(), within_s=SHUTDOWN_STEP_TIMEOUT_S, step=f"shutdown: {name}")
        self.tracer_provider.shutdown()


def create_service_app(
    *,
    infra: Infrastructure,
    title: str,
    description: str,
    routers: Iterable[APIRouter] = (),
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_started: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    resources: Mapping[str, ResourceLoader] | None = None,
    webhooks: WebhookVerifier | None = None,
    rate_limit: RateLimitSettings | None = None,
) -> FastAPI:
    """A FastAPI app that runs the service's broker and serves its API and probes.

    `on_startup` runs before the broker starts (indexes), `on_started` after it (background
    work that publishes), `on_shutdown` before the broker and store close. Every request
    passes the access table of `kcc_shared.access` (token, roles, department scope through
    `resources`, webhook signatures through `webhooks`), the per-client `rate_limit` if
    given, and the body size limit `settings.max_body_bytes`."""

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await infra.wait_for_dependencies()
        await infra.inbox.ensure_indexes()
        if on_startup is not None:
            await on_startup()
        await infra.broker.start()
        if infra.lag is not None and infra.broker.subscribers:
            infra.lag.start()
        if on_started is not None:
            await on_started()
        if shared is not None:
            await shared.ensure_indexes()
            await shared.start()
        log.info("service started", extra={"port": infra.settings.port})
        try:
            yield
        finally:
            try:
                if shared is not None:
                    await shared.stop()
                if on_shutdown is not None:
                    await on_shutdown()
            finally:
                await infra.close()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.infra = infra
    _add_probes(app, infra)
    name = infra.settings.service_name
    limiter = RateLimiter(rate_limit) if rate_limit is not None and rate_limit.enabled else None
    shared = None
    if limiter is not None and limiter.settings.share_interval_s > 0:  # one limit for all replicas
        shared = SharedBuckets(infra.db["rate_limits"], limiter, replica=holder_name(name), interval_s=limiter.settings.share_interval_s)
    app.state.rate_limiter, app.state.shared_rate_limits = limiter, shared
    # Innermost of the guards: a request is authenticated before its numbers are looked at.
    app.add_middleware(StrictJsonNumbers)
    install_access_guard(
        app, service=name, validator=TokenValidator(infra.settings.auth), resources=resources, webhooks=webhooks,
        rate_limiter=limiter,
    )
    document_access(app, service=name, rate_limited=limiter is not None)
    _add_http_metrics(app, infra.registry)
    app.add_middleware(BodySizeLimit, max_bytes=infra.settings.max_body_bytes)
    _add_unavailable_handlers(app)
    app.include_router(dead_letter_router(infra.settings))
    for router in routers:
        app.include_router(router)
    # One server span per request; without exclude_spans each request also made an internal span
    # for reading the body and two for sending the answer: noise in a trace, and CPU on every call.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=infra.tracer_provider, excluded_urls="healthz,readyz,metrics",
        server_request_hook=scrub_server_span, exclude_spans=["receive", "send"],
    )
    return app


def _add_probes(app: FastAPI, infra: Infrastructure) -> None:
    @app.get("/healthz", tags=["ops"], summary="Alive: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Ready: Kafka and the store are reachable (else 503)")
    async def readyz() -> JSONResponse:
        checks = await infra.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(infra.registry), media_type=CONTENT_TYPE_LATEST)


def _add_unavailable_handlers(app: FastAPI) -> None:
    """A broker or store that does not answer is a 503 the caller can retry, never a 500."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        dependency = "event broker" if isinstance(exc, KafkaError) else "store"
        log.error("dependency unavailable", extra={"path": request.url.path, "error": repr(exc)})
        return JSONResponse(
            {"detail": f"{dependency} unavailable, retry later: {type(exc).__name__}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(KafkaError, unavailable)
    app.add_exception_handler(PyMongoError, unavailable)


def _add_http_metrics(app: FastAPI, registry: CollectorRegistry) -> None:
    latency = Histogram(
        "kcc_http_request_duration_seconds",
        "HTTP request latency by route and status",
        ["method", "route", "status"],
        registry=registry,
    )

    app.add_middleware(_MeasureLatency, latency=latency)


class _MeasureLatency:
    """ASGI middleware observing each request's latency by route and status (a plain one: see
    `kcc_shared.access.Gate` for what `@app.middleware("http")` would cost per request)."""

    def __init__(self, app: ASGIApp, *, latency: Histogram) -> None:
        self.app, self.latency = app, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        route = getattr(scope.get("route"), "path", "unmatched")
        self.latency.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)


def run(settings: ServiceSettings, create_app: Callable[[ServiceSettings], FastAPI]) -> None:
    """Entrypoint body: JSON logs, then uvicorn on the service's host and port until stopped."""
    import uvicorn

    from kcc_shared.logs import configure_logging

    telemetry = settings.telemetry
    configure_logging(service_name=settings.service_name, level=telemetry.log_level, json_format=telemetry.log_json)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
