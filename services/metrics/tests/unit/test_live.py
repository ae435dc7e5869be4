"""Live documents' updates: a state that only moves forward whatever the order, and no document
for what never waits in a queue realtime shows."""

import random
from datetime import UTC, datetime

from kcc_metrics.live import CALLBACK, CLOSED, CONTACT, OPEN, VISIT, seen_queues, updates

AT = datetime(2026, 12, 22, 9, tzinfo=UTC)


def fact(event_id: str, kind: str, day: str = "2026-12-22", **fields) -> dict:
    return {"_id": event_id, "kind": kind, "day": day, "at": AT, **fields}


def state_after(entity, facts) -> dict:
    """What the store holds after the updates, applied one batch per fact in the given order."""
    document: dict = {"events": {}}
    for f in facts:
        for update in updates(entity, [f]).values():
            document["events"] |= {k[len("events."):]: v for k, v in update["$set"].items()}
            for field, value in update.get("$max", {}).items():
                document[field] = max(document.get(field, value), value)
    return {k: v for k, v in document.items() if k != "events"}


def test_a_ticket_or_call_back_is_open_until_closed_in_any_order():
    ticket = [fact("d", "counter", event="drawn", location="stadhuis", visit_key="v1"),
              fact("c", "counter", event="called", location="stadhuis", visit_key="v1")]
    assert state_after(VISIT, ticket[:1]) == {"state": OPEN, "day": "2026-12-22"}
    assert state_after(VISIT, ticket) == state_after(VISIT, ticket[::-1]) == {"state": CLOSED, "day": "2026-12-22"}
    booked = [fact("s", "callback", event="scheduled", callback_id="cb", day="2026-12-21"),
              fact("x", "callback", event="cancelled", callback_id="cb")]
    for _ in range(5):
        random.shuffle(booked)
        assert state_after(CALLBACK, booked * 2) == {"state": CLOSED, "day": "2026-12-21"}


def test_a_written_contact_waits_once_queued_and_phone_contacts_make_no_document():
    mail = [fact("r", "received", channel="email", contact_id="m1", received_at=AT),
            fact("q", "routed", channel="email", contact_id="m1", decision="answer_in_kcc", department_id="kcc", routed_at=AT)]
    assert state_after(CONTACT, mail) == {"state": OPEN, "day": "2026-12-22"}
    done = fact("z", "resolved", channel="email", contact_id="m1", resolved_at=AT)
    assert state_after(CONTACT, [done, *mail]) == {"state": CLOSED, "day": "2026-12-22"}
    handed = fact("h", "routed", channel="web", contact_id="w1", decision="callback", department_id="sozawe", routed_at=AT)
    assert state_after(CONTACT, [handed]) == {}  # a call-back is not a queue: never open
    phone = fact("p", "routed", channel="telephone", contact_id="p1", decision="answer_in_kcc", department_id="kcc", routed_at=AT)
    assert updates(CONTACT, [phone]) == {}
    assert "citizen_key" not in str(updates(CONTACT, [{**mail[0], "citizen_key": "bsn:secret"}]))
    assert sorted(seen_queues([mail[1], phone, fact("o", "call", event="offered", call_id="c1")])) == [
        "kcc:email|2026-12-22", "telephone:algemeen|2026-12-22",
    ]


def test_an_agents_latest_status_of_the_day_wins_whatever_the_order_of_arrival():
    from kcc_metrics.live import agent_latest, agent_statuses

    facts = [
        {"agent_id": "a1", "day": "2026-12-07", "at": datetime(2026, 12, 7, 9, tzinfo=UTC), "status": "available"},
        {"agent_id": "a1", "day": "2026-12-07", "at": datetime(2026, 12, 7, 10, tzinfo=UTC), "status": "break"},
        {"agent_id": "a2", "day": "2026-12-07", "at": datetime(2026, 12, 7, 8, tzinfo=UTC), "status": "available"},
    ]
    for ordered in (facts, facts[::-1]):
        stored: dict[str, str] = {}
        for fact in ordered:  # one batch per fact: the store's `$max` keeps the later
            for key, update in agent_latest([fact]).items():
                stored[key] = max(stored.get(key, ""), update["$max"]["latest"])
        assert stored == {k: u["$max"]["latest"] for k, u in agent_latest(facts).items()} and stored.keys() == {"a1|2026-12-07", "a2|2026-12-07"}
        documents = [{"agent_id": k.split("|")[0], "latest": v} for k, v in stored.items()]
        assert {(a["agent_id"], a["status"], a["at"].hour) for a in agent_statuses(documents)} == {("a1", "break", 10), ("a2", "available", 8)}
