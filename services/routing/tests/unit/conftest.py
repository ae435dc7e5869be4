"""Hand-written fakes for routing's stores (same contract as the Mongo repositories)."""

from datetime import datetime
from typing import Any


class FakeDecisions:
    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}
        self.outboxes: dict[str, list[dict[str, Any]]] = {}

    async def save(self, routed, *, outbox):
        self.outboxes.setdefault(routed.id, list(outbox))
        return self.saved.setdefault(routed.id, routed), self.outboxes[routed.id]

    async def find(self, event_id):
        return (self.saved[event_id], self.outboxes[event_id]) if event_id in self.saved else None

    async def get(self, contact_id):
        mine = [r for r in self.saved.values() if r.data.contact_id == contact_id]
        return max(mine, key=lambda r: r.data.routed_at).data if mine else None


class FakeWork:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, str] = {}
        self.closures: dict[str, dict[str, Any]] = {}

    async def enqueue(self, item):
        self.items.setdefault(item["_id"], dict(item))

    async def get(self, contact_id):
        return self.items.get(contact_id)

    def _free(self, item, now, agent_id=None):
        return item["status"] == "waiting" or (
            item["status"] == "claimed" and (item["lease_until"] < now or item["claimed_by"] == agent_id)
        )

    async def available(self, *, now, channel, skill, limit):
        return [
            i for i in self.items.values()
            if self._free(i, now) and (channel is None or i["channel"] == channel) and (skill is None or i["skill"] == skill)
        ][:limit]

    async def claim(self, *, contact_id, agent_id, now, lease_until):
        item = self.items.get(contact_id)
        if item is None or not self._free(item, now, agent_id):
            return None
        item.update(status="claimed", claimed_by=agent_id, lease_until=lease_until)
        return dict(item)

    async def resolve(self, *, contact_id, agent_id, now, outcome, handle_time_s, outbox):
        item = self.items.get(contact_id)
        if item is None or item["status"] != "claimed" or item["claimed_by"] != agent_id or item["lease_until"] < now:
            return None
        item.update(status="resolved", outcome=outcome, handle_time_s=handle_time_s, resolved_at=now)
        item.setdefault("outbox", []).extend(outbox)
        return dict(item)

    async def count_transfer(self, *, contact_id, limit):
        item = self.items.get(contact_id)
        if item is None or item["transfers"] >= limit:
            return None
        item["transfers"] += 1
        return dict(item)

    # channel references and closures (insert-only in the real store: the first one stands)
    async def link(self, *, ref, contact_id):
        self.refs.setdefault(ref, contact_id)

    async def contact_of(self, ref):
        return self.refs.get(ref)

    async def close(self, *, key, reason, at, contact_id):
        self.closures.setdefault(key, {"_id": key, "kind": "contact" if contact_id else "channel", "contact_id": contact_id, "reason": reason, "closed_at": at})

    async def closure(self, key):
        return self.closures.get(key)

    async def mark_closed(self, *, contact_id, reason, at):
        item = self.items.get(contact_id)
        if item is not None and item["status"] == "waiting":
            item.update(status="closed", closed_reason=reason, closed_at=at)


class FakePresence:
    def __init__(self, **present: int) -> None:
        self.present = present

    async def available(self, department_id, *, now):
        return self.present.get(department_id, 0)


class FakeChanges:
    def __init__(self) -> None:
        self.changes: dict[str, dict[str, Any]] = {}
        self.reloads = 0

    async def put(self, *, department, now: datetime):
        self.changes[department["id"]] = {"_id": department["id"], "department": department, "changed_at": now}

    async def all(self):
        return sorted(self.changes.values(), key=lambda c: c["changed_at"])

    async def snapshot(self):
        return await self.all(), self.reloads

    async def request_reload(self):
        self.reloads += 1
        return self.reloads


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


import pytest  # noqa: E402

from kcc_routing.classify import default_classifier  # noqa: E402
from kcc_routing.directory import Directory  # noqa: E402
from kcc_routing.organisation import load_default_config  # noqa: E402
from kcc_routing.queues import WorkQueues  # noqa: E402
from kcc_routing.service import RoutingService  # noqa: E402
from kcc_routing.taxonomy import load_taxonomy  # noqa: E402


class Harness:
    """A RoutingService on fakes, with the shipped organisation, UPL and classifier."""

    def __init__(self, now: datetime, **present: int) -> None:
        from datetime import timedelta

        self.clock = Clock(now)
        self.decisions, self.work, self.presence, self.changes = FakeDecisions(), FakeWork(), FakePresence(**present), FakeChanges()
        self.directory = Directory(load_config=load_default_config, taxonomy=load_taxonomy(), changes=self.changes)
        self.queues = WorkQueues(store=self.work, lease=timedelta(minutes=5), ageing_per_minute=1.0, source="/kcc/routing")
        self.routing = RoutingService(
            decisions=self.decisions,
            queues=self.queues,
            presence=self.presence,
            directory=self.directory,
            classifier=default_classifier(),
            source="/kcc/routing",
            clock=self.clock,
        )


@pytest.fixture
def harness():
    return Harness
