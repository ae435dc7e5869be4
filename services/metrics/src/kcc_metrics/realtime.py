"""The live picture: who waits in which queue, since when, and which call-backs are due.

Derived from facts only (the events): a call waits from `call.offered` until it is answered,
abandoned or ended; a counter ticket from `drawn` until `called` or `left`; a written or web
contact routed `answer_in_kcc` waits in the KCC queue of its channel until resolved; a contact
forwarded to a department waits in that department's queue until resolved. A call-back is open
from its first booking until completed, failed or cancelled. An agent is available when the
latest status it reported today (local day, `kcc.agent.status.v1`) is `available`: a new day
starts with nobody available until agents sign in."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge
from pydantic import AwareDatetime, BaseModel, Field

from kcc_metrics.kpis.written import _aware

log = logging.getLogger(__name__)

LIVE_CHANNELS = ("telephone", "counter")  # their waiting shows in the call and ticket events


class QueueNow(BaseModel):
    queue: str = Field(description="telephone:<line>, counter:<location>, kcc:<channel> or department:<id>")
    waiting: int
    oldest_waiting_s: float | None = Field(description="Seconds the longest-waiting one has waited; null when none waits")


class Realtime(BaseModel):
    at: AwareDatetime
    queues: list[QueueNow]
    agents_available: int = Field(
        description="KCC agents whose latest status today (local day) is `available` (kcc.agent.status.v1)"
    )
    callbacks_due_today: int = Field(description="Open call-backs whose deadline is later today (local)")
    callbacks_overdue: int = Field(description="Open call-backs whose deadline has passed")


class _Queues:
    def __init__(self, now: datetime) -> None:
        self._now, self._since = now, defaultdict(list)

    def seen(self, queue: str) -> None:
        self._since.setdefault(queue, [])

    def waits(self, queue: str, since: datetime) -> None:
        self._since[queue].append(_aware(since))

    def rows(self) -> list[QueueNow]:
        return [
            QueueNow(
                queue=queue, waiting=len(since),
                oldest_waiting_s=max(0.0, (self._now - min(since)).total_seconds()) if since else None,
            )
            for queue, since in sorted(self._since.items())
        ]


def _grouped(facts: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        groups[fact[key]][fact["event"]].append(fact)
    return groups


def snapshot(
    *, now: datetime, tz: ZoneInfo, calls: Iterable[dict[str, Any]], tickets: Iterable[dict[str, Any]],
    routed: Iterable[dict[str, Any]], resolved: Iterable[dict[str, Any]], received: dict[str, dict[str, Any]],
    callbacks: Iterable[dict[str, Any]], agents: Iterable[dict[str, Any]] = (), seen: Iterable[str] = (),
) -> Realtime:
    """`seen`: queues something was put in lately, shown even when nobody waits in them now."""
    queues = _Queues(now)
    for queue in seen:
        queues.seen(queue)
    for events in _grouped(calls, "call_id").values():
        if not events["offered"]:
            continue
        offered = events["offered"][0]
        queue = f"telephone:{offered.get('service_line') or 'algemeen'}"
        queues.seen(queue)
        if not (events["answered"] or events["abandoned"] or events["ended"]):
            queues.waits(queue, offered["at"])
    for events in _grouped(tickets, "visit_key").values():
        if not events["drawn"]:
            continue
        drawn = events["drawn"][0]
        queue = f"counter:{drawn['location']}"
        queues.seen(queue)
        if not (events["called"] or events["left"] or events["served"]):
            queues.waits(queue, drawn["at"])
    done = {f["contact_id"]: _aware(f["resolved_at"]) for f in sorted(resolved, key=lambda f: _aware(f["resolved_at"]))}
    for fact in routed:
        # Facts recorded before routed facts carried channel and time cannot be placed in a queue.
        if fact.get("channel") in (None, *LIVE_CHANNELS) or fact["decision"] not in ("answer_in_kcc", "forward_to_department"):
            continue
        queue = f"kcc:{fact['channel']}" if fact["decision"] == "answer_in_kcc" else f"department:{fact['department_id']}"
        queues.seen(queue)
        if fact["contact_id"] not in done:
            since = received.get(fact["contact_id"], {}).get("received_at") or fact.get("routed_at") or now
            queues.waits(queue, since)
    due_today = overdue = 0
    for events in _grouped(callbacks, "callback_id").values():
        if not events["scheduled"] or events["completed"] or events["failed"] or events["cancelled"]:
            continue
        deadline = min(_aware(f["deadline"]) for f in events["scheduled"])
        if deadline <= now:
            overdue += 1
        elif deadline.astimezone(tz).date() == now.astimezone(tz).date():
            due_today += 1
    return Realtime(
        at=now, queues=queues.rows(), agents_available=available_agents(agents, now=now),
        callbacks_due_today=due_today, callbacks_overdue=overdue,
    )


def available_agents(agents: Iterable[dict[str, Any]], *, now: datetime) -> int:
    """How many agents' latest status (up to now) is `available`."""
    latest: dict[str, tuple[datetime, str]] = {}
    for fact in agents:
        at = _aware(fact["at"])
        if at <= now and (fact["agent_id"] not in latest or at >= latest[fact["agent_id"]][0]):
            latest[fact["agent_id"]] = (at, fact["status"])
    return sum(1 for _, status in latest.values() if status == "available")


class RealtimeGauges:
    """Prometheus gauges for the live picture, refreshed on a timer (a scrape must not query the store)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.waiting = Gauge("kcc_metrics_queue_waiting", "Contacts waiting per queue", ["queue"], registry=registry)
        self.oldest = Gauge(
            "kcc_metrics_queue_oldest_waiting_seconds", "Age of the longest-waiting contact per queue", ["queue"], registry=registry
        )
        self.due_today = Gauge("kcc_metrics_callbacks_due_today", "Open call-backs due later today", registry=registry)
        self.overdue = Gauge("kcc_metrics_callbacks_overdue", "Open call-backs past their deadline", registry=registry)
        self.agents = Gauge("kcc_metrics_agents_available", "KCC agents whose latest status today is available", registry=registry)
        self.updated = Gauge("kcc_metrics_realtime_updated_timestamp_seconds", "When the gauges were last refreshed", registry=registry)

    def update(self, now: Realtime) -> None:
        self.waiting.clear()
        self.oldest.clear()
        for queue in now.queues:
            self.waiting.labels(queue.queue).set(queue.waiting)
            self.oldest.labels(queue.queue).set(queue.oldest_waiting_s or 0.0)
        self.due_today.set(now.callbacks_due_today)
        self.overdue.set(now.callbacks_overdue)
        self.agents.set(now.agents_available)
        self.updated.set(now.at.timestamp())


async def refresh_forever(compute: Callable[[], Awaitable[Realtime]], gauges: RealtimeGauges, *, every_s: float) -> None:
    while True:
        try:
            gauges.update(await compute())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed refresh keeps the last values; the next one retries
            log.warning("realtime gauges not refreshed", extra={"error": repr(exc)})
        await asyncio.sleep(every_s)
