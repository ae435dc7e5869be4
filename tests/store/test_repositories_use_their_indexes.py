"""Every query a repository sends on a request, per-event or scheduled path uses an index.

Each test declares a service's indexes as its repository does at start-up, stores a few
hundred documents, calls the repository's methods, and asks the store how it ran each command
it sent (explain): none may scan a whole collection. A query that scans grows with the history
stored; one that uses an index costs what it returns. Callback's and metrics' repositories
have the same check beside their own integration tests.
"""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.contracts import CitizenErasureRequestedData
from kcc_shared.queryplans import PlanRecorder

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


async def assert_no_collection_scans(client: AsyncMongoClient, recorder: PlanRecorder, *, at_least: int) -> None:
    plans = await recorder.plans(client)
    assert len(plans) >= at_least, [str(p) for p in plans]
    assert [str(p) for p in plans if p.scans] == []


async def test_routing_queues_claims_decisions_presence_and_privacy(db: AsyncDatabase, client: AsyncMongoClient, recorder: PlanRecorder) -> None:
    from kcc_routing.deliveries import DeliveryRepository
    from kcc_routing.privacy import RoutingPrivacy
    from kcc_shared.outbox import EmbeddedOutbox
    from kcc_routing.repository import repositories

    decisions, work, presence, departments = repositories(db, presence_ttl=timedelta(hours=1))
    for repository in (decisions, work):
        await repository.ensure_indexes()
    channels, skills = ("telephone", "email", "web"), ("kcc", "burgerzaken", "belastingen")
    await db["work"].insert_many([
        {"_id": f"c{i}", "status": ("waiting", "resolved", "claimed")[i % 3], "channel": channels[i % 3], "skill": skills[i % 3 - 1],
         "received_at": NOW - timedelta(days=i), "transfers": 0, "claimed_by": "old" if i % 3 == 2 else None,
         "lease_until": NOW - timedelta(minutes=1) if i % 3 == 2 else None}
        for i in range(300)
    ])
    recorder.clear()

    await work.available(now=NOW, channel=None, skill=None, limit=20)
    await work.available(now=NOW, channel="telephone", skill=None, limit=20)
    await work.available(now=NOW, channel=None, skill="kcc", limit=20)
    await work.available(now=NOW, channel="email", skill="burgerzaken", limit=500)
    await work.claim(contact_id="c0", agent_id="a1", now=NOW, lease_until=NOW + timedelta(minutes=5))
    await work.claim(contact_id="c0", agent_id="a1", now=NOW, lease_until=NOW + timedelta(minutes=6))
    await work.count_transfer(contact_id="c0", limit=2)
    await work.resolve(contact_id="c0", agent_id="a1", now=NOW, outcome="answered_in_kcc", handle_time_s=60, outbox=[{"id": "e0", "at": NOW}])
    sent: list[str] = []

    async def send(entry: dict) -> None:
        sent.append(entry["id"])

    outbox = EmbeddedOutbox(db["work"], send=send)
    await outbox.ensure_indexes()
    await outbox.oldest()
    await outbox.flush(queued_before=NOW + timedelta(seconds=1))
    assert sent == ["e0"] and await outbox.pending("c0") == []
    deliveries = DeliveryRepository(db["deliveries"])
    await deliveries.ensure_indexes()
    await deliveries.enqueue({"_id": "d1", "department_id": "sozawe", "status": "pending", "next_at": NOW, "attempts": 0})
    assert await deliveries.due_departments(now=NOW) == {"sozawe"}
    assert [d["_id"] for d in await deliveries.due("sozawe", now=NOW)] == ["d1"]
    await deliveries.retry("d1", attempts=1, next_at=NOW + timedelta(seconds=25), error="503")
    assert await deliveries.due("sozawe", now=NOW) == []
    await deliveries.pending_count()
    await work.link(ref="call:x", contact_id="c3")
    await work.contact_of("call:x")
    await work.close(key="call:x", reason="abandoned", at=NOW, contact_id=None)
    await work.closure("call:x")
    await work.mark_closed(contact_id="c3", reason="abandoned", at=NOW)
    await work.reopen(contact_id="c4", reason="answer undelivered", at=NOW, item={"_id": "c4", "channel": "email"})
    await decisions.get("c3")
    await presence.report(department_id="burgerzaken", agents=["b1"], now=NOW)
    await presence.available("burgerzaken", now=NOW)
    await departments.put(department={"id": "sozawe", "name": "SOZAWE"}, now=NOW)
    await departments.all()
    privacy = RoutingPrivacy(db, retention_months=12, clock=lambda: NOW)
    await privacy.erase(CitizenErasureRequestedData.model_validate(
        {"erasure_id": "e1", "contact_ids": ["c6", "c9"], "pseudonyms": [], "requested_at": NOW.isoformat(), "requested_by": "ops"}))
    await privacy.purge_expired()

    await assert_no_collection_scans(client, recorder, at_least=20)


async def test_intake_contacts_timeline_outbox_and_privacy(db: AsyncDatabase, client: AsyncMongoClient, recorder: PlanRecorder) -> None:
    from kcc_intake.privacy import PrivacyRepository
    from kcc_intake.repository import ContactRepository, OutboxRepository, PendingStore

    contacts, outbox, privacy = ContactRepository(db), OutboxRepository(db), PrivacyRepository(db)
    for repository in (contacts, outbox, privacy):
        await repository.ensure_indexes()
    await db["contacts"].insert_many([
        {"_id": f"c{i}", "dedup_key": f"id:c{i}", "event_id": f"e{i}", "seq": i, "received_at": NOW - timedelta(days=i),
         "stored_at": NOW, "citizen": {"email": f"p{i % 50}@example.nl", **({"bsn": f"{i % 40:09d}"} if i % 2 else {})},
         **({"unpublished": True} if i % 100 == 0 else {})}
        for i in range(400)
    ])
    await db["registry"].insert_many([
        {"_id": f"ps{i}", "kind": "email", "value": f"p{i}@example.nl", "registered_at": NOW - timedelta(days=500)} for i in range(60)
    ])
    recorder.clear()

    await contacts.get("c7")
    await contacts.insert({"_id": "new", "dedup_key": "id:c7", "event_id": "x", "seq": 1000, "received_at": NOW, "citizen": {}})
    page, total = await contacts.timeline({"email": "p3@example.nl", "bsn": f"{3:09d}"}, skip=0, limit=5)
    assert total == 8 + 10 - 2 and len(page) == 5  # c3, c53 … by e-mail, c3, c43 … by BSN; c3 and c203 by both
    await contacts.set_department("c7", department_id="belastingen", upl_uri=None)
    await outbox.insert({"_id": "ev1", "event_id": "ev1", "seq": 2000, "unpublished": True})
    pending = PendingStore(db)
    unpublished = await pending.unpublished(limit=100)
    assert [doc["_id"] for _, doc in unpublished] == ["c0", "c100", "c200", "c300", "ev1"]
    await pending.mark_published([(name, doc["_id"]) for name, doc in unpublished])
    assert await pending.unpublished(limit=100) == []
    await privacy.contacts_of([("email", "p5@example.nl"), ("bsn", f"{5:09d}")])
    await privacy.delete_by_ids("contacts", ["c1", "c2"])
    await privacy.results("erasure-1")
    await privacy.purge_contacts(before=NOW - timedelta(days=365), now=NOW)
    await privacy.purge_registry(before=NOW - timedelta(days=365))

    await assert_no_collection_scans(client, recorder, at_least=15)


async def test_intake_attachments_replies_and_outgoing_messages(db: AsyncDatabase, client: AsyncMongoClient, recorder: PlanRecorder) -> None:
    from kcc_intake.attachments import AttachmentStore, Upload
    from kcc_intake.delivery import DeliveryRepository
    from kcc_intake.repository import ReplyRepository

    attachments, replies, deliveries = AttachmentStore(db), ReplyRepository(db), DeliveryRepository(db)
    for repository in (attachments, replies, deliveries):
        await repository.ensure_indexes()
    for i in range(60):
        await attachments.put(attachment_id=f"a{i}", contact_id=f"c{i % 20}", upload=Upload("x.pdf", "application/pdf", b"%PDF" * i))
    await db["replies"].insert_many([
        {"_id": f"r{i}", "contact_id": f"c{i % 20}", "created_at": NOW - timedelta(minutes=i), "status": "sent"} for i in range(200)
    ])
    await db["deliveries"].insert_many([
        {"_id": f"d{i}", "contact_id": f"c{i % 20}", "state": ("sent", "pending", "failed")[i % 3], "announced": True,
         "next_attempt_at": NOW + timedelta(minutes=i), "lease_until": None}
        for i in range(300)
    ])
    recorder.clear()

    await attachments.of_contact("c3")
    await attachments.get(contact_id="c3", attachment_id="a3")
    await replies.of_contacts(["c1", "c2"])
    await replies.get("r5")
    await deliveries.queue({"_id": "new", "contact_id": "c1", "channel": "email", "kind": "reply"})
    job = await deliveries.take(now=NOW + timedelta(days=1), lease=timedelta(minutes=2))
    assert await deliveries.take(now=NOW - timedelta(days=1), lease=timedelta(minutes=2)) is None  # nothing due, nothing stalled
    await deliveries.sending(job["_id"])
    await deliveries.sent(job["_id"], at=NOW)
    await deliveries.announced(job["_id"])
    await deliveries.erase(["c4"])
    await replies.erase(["c4"])
    await attachments.erase(["c4"])
    await attachments.purge(NOW - timedelta(days=365))
    await replies.purge(NOW - timedelta(days=365))

    await assert_no_collection_scans(client, recorder, at_least=10)
