"""Personal data on the real stack: a citizen with a BSN, a phone number and an e-mail address
contacts the municipality three times (web form, phone call, e-mail); the contacts flow through
intake → routing → callback → metrics on the real broker and store.

- No event on any kcc.* topic, read from the beginning (dead letters included), carries the
  BSN, the number or the address in clear, in any common notation.
- The callback service got the number from intake's registry (with its token), not from an event.
- After an erasure request by BSN, every service reports its part, no collection of any
  service's database holds the identifiers or the message text, and the metrics figures are
  the same as before.
"""

import asyncio
import json
import random
import string
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from bson import json_util
from pymongo import AsyncMongoClient

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.repository import FactRepository
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.testing import credentials, running, unique

pytestmark = pytest.mark.e2e

# Routing decides as on Sunday 30 September 2012: SOZAWE has not joined the KCC yet and is
# closed, so a call about bijstand becomes a call-back and a web form a forward to SOZAWE.
SUNDAY = datetime(2012, 9, 30, 11, 0, tzinfo=UTC)
DAY = "2012-09-30"
SOZAWE_LINE = "0501112233"


def random_bsn() -> str:
    """A BSN that passes the 11-proef and that no other test uses."""
    while True:
        digits = [random.randint(1, 9)] + [random.randint(0, 9) for _ in range(7)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def notations(bsn: str, mobile: str, email: str) -> list[str]:
    """Every common way the three identifiers may be written (mobile = the 8 digits after 06)."""
    return [
        bsn, f"{bsn[:3]}.{bsn[3:5]}.{bsn[5:]}", f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}",
        f"+316{mobile}", f"06{mobile}", f"06-{mobile}", f"06 {mobile[:4]} {mobile[4:]}", f"00316{mobile}",
        f"+31 6 {mobile[:4]} {mobile[4:]}", f"316{mobile}", f"6{mobile}",
        email, email.upper(), email.split("@")[0],
    ]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def poll(fetch, done, *, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def every_event_on_every_topic(bootstrap: str) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The kcc.* topics, and (topic, record) for each record of each kcc.* topic from its first offset to its end; the
    record as its value, key and headers."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - no public call lists partitions of all topics
        topics = sorted(t for t in cluster.topics() if t.startswith("kcc."))
        partitions = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        raw: list[tuple[str, bytes]] = []
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000)
            if not batches and all(await asyncio.gather(*(_at_end(consumer, tp, end) for tp in remaining))):
                break
            for tp, records in batches.items():
                for record in records:
                    headers = b"".join(k.encode() + b"=" + (v or b"") for k, v in record.headers)
                    raw.append((tp.topic, (record.value or b"") + b"|" + (record.key or b"") + b"|" + headers))
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return topics, raw
    finally:
        await consumer.stop()


async def _at_end(consumer: AIOKafkaConsumer, tp: TopicPartition, end: dict) -> bool:
    return await consumer.position(tp) >= end[tp]


async def every_document(mongo: AsyncMongoClient, databases: list[str]) -> dict[str, str]:
    """`db.collection` → all its documents as extended JSON."""
    found = {}
    for name in databases:
        db = mongo[name]
        for collection in await db.list_collection_names():
            docs = await db[collection].find({}).to_list(None)
            found[f"{name}.{collection}"] = json_util.dumps(docs)
    return found


async def test_personal_data_stays_off_the_topics_and_an_erasure_removes_it_everywhere(
    service_env, real_stack, monkeypatch
):
    envs = {service: service_env(service) for service in ("intake", "routing", "callback", "metrics")}
    monkeypatch.setenv("KCC_INTAKE_NUMBER_MAP", json.dumps({SOZAWE_LINE: "werk-inkomen", "14050": "algemeen"}))
    # 06-1 .. 06-5 only: 06-7x and 06-9x are not mobile ranges, and intake rightly refuses them.
    bsn, mobile = random_bsn(), f"{random.randint(10_000_000, 59_999_999)}"
    marker = "".join(random.choices(string.ascii_lowercase, k=12))
    email = f"burger.{marker}@example.nl"
    phone = f"+316{mobile}"
    web_text = (
        f"Ik ben mijn baan kwijt en wil bijstand aanvragen. Mijn BSN is {bsn}, bel me op 06-{mobile} "
        f"of mail {email}. Kenmerk {marker}."
    )
    mail_text = f"Mijn paspoort is verlopen, hoe vraag ik een nieuw paspoort aan? Groet, {marker}"

    intake = intake_app(IntakeSettings())
    apps = {
        "intake": intake,
        "routing": routing_app(RoutingSettings(), clock=Clock(SUNDAY)),
        # The callback service reaches the in-process intake's registry over ASGI.
        "callback": callback_app(CallbackSettings(), registry_transport=httpx.ASGITransport(app=intake)),
        "metrics": metrics_app(MetricsSettings()),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}
        dbs = {name: app.state.infra.db for name, app in apps.items()}

        # 1. Three contacts of one citizen: a web form, a call, an e-mail.
        web = await clients["intake"].post("/v1/channels/web/submissions", json={
            "form_id": "contactformulier", "submission_id": unique("web"), "subject": f"Bijstand {marker}",
            "message": web_text, "bsn": bsn, "phone": f"06 {mobile[:4]} {mobile[4:]}", "email": email.upper(),
            "submitted_at": SUNDAY.isoformat(),
        })
        call_id = unique("call")
        call = await clients["intake"].post("/v1/channels/telephone/events", json={
            "event": "offered", "call_id": call_id, "at": SUNDAY.isoformat(), "dialled_number": SOZAWE_LINE,
            "caller_number": f"06-{mobile}",
        })
        abandoned = await clients["intake"].post("/v1/channels/telephone/events", json={
            "event": "abandoned", "call_id": call_id, "at": SUNDAY.isoformat(), "wait_s": 95,
        })
        mail = await clients["intake"].post("/v1/channels/email/inbound", json={
            "message_id": f"<{unique('mail')}@example.nl>", "from_address": email, "to": ["kcc@groningen.nl"],
            "subject": "Paspoort", "text": mail_text, "received_at": SUNDAY.isoformat(),
        })
        assert [r.status_code for r in (web, call, abandoned, mail)] == [202] * 4, [r.text for r in (web, call, mail)]
        web_id, call_contact, mail_id = web.json()["contact_id"], call.json()["contact_id"], mail.json()["contact_id"]

        # 2. Routing forwards the form to SOZAWE, books a call-back for the call, queues the mail.
        decisions = {}
        for contact_id in (web_id, call_contact, mail_id):
            response = await poll(lambda c=contact_id: clients["routing"].get(f"/v1/decisions/{c}"), lambda r: r.status_code == 200)
            decisions[contact_id] = response.json()["decision"]
        assert decisions == {web_id: "forward_to_department", call_contact: "callback", mail_id: "answer_in_kcc"}
        callback = await poll(lambda: dbs["callback"]["callbacks"].find_one({"contact_id": call_contact}), lambda d: d is not None)
        assert callback is not None, "no call-back booked"
        # The callback service asked intake's registry for the number; no event carried it.
        number = await clients["callback"].get(f"/v1/callbacks/{callback['_id']}/phone")
        assert number.json()["phone"] == phone
        async def stored_facts() -> int:
            return await FactRepository(dbs["metrics"]["facts"]).count()

        facts = await poll(stored_facts, lambda n: n >= 9)  # 3 received, 3 routed, offered, abandoned, call-back scheduled
        assert facts >= 9
        norms_before = (await clients["metrics"].get("/v1/service-norms", params={"from": DAY, "to": DAY})).json()
        offered = next(k for k in norms_before["kpis"] if k["name"] == "offered")
        assert offered["value"] == 1  # the figures compared below are real ones

        # 3. Erasure by BSN: every service reports what it removed.
        # Asked by an official with an admin token of her own: the audit names the token's subject.
        officer = credentials().token(["admin"], subject="privacy-officer-07")
        erasure = await clients["intake"].post(
            "/v1/erasures", json={"bsn": bsn, "reference": "AVG-2026-0042"}, headers={"Authorization": f"Bearer {officer}"}
        )
        assert erasure.status_code == 202, erasure.text
        accepted = erasure.json()
        assert accepted["contacts"] == 3 and accepted["identifiers"] == 3  # found through the form's phone and e-mail
        result = await poll(
            lambda: clients["intake"].get(f"/v1/erasures/{accepted['erasure_id']}"),
            lambda r: r.json()["status"] == "completed",
        )
        report = result.json()
        assert report["status"] == "completed" and report["requested_by"] == "privacy-officer-07", report
        assert report["reference"] == "AVG-2026-0042", report
        removed = {service: part["removed"] for service, part in report["services"].items()}
        # The e-mail's acknowledgement is an outgoing message (`deliveries`); no attachments or answers here.
        assert removed["intake"] == {"contacts": 3, "attachments": 0, "replies": 0, "deliveries": 1, "registry": 3}
        assert removed["routing"] == {"work": 1, "decisions": 3}
        assert removed["callback"]["callbacks"] == 1 and removed["callback"]["timers"] >= 1
        assert set(removed["metrics"]) == {"facts"}
        for service, app in apps.items():  # each service keeps its own audit entry
            audit = await app.state.infra.db["erasure_audit"].find_one({"_id": accepted["erasure_id"]})
            assert audit["requested_by"] == "privacy-officer-07" and audit["reference"] == "AVG-2026-0042", service
            assert audit["removed"] == removed[service], service
        assert (await clients["intake"].get(f"/v1/contacts/{web_id}")).status_code == 404
        assert (await clients["callback"].get(f"/v1/callbacks/{callback['_id']}")).status_code == 404

        # 4. No store holds the identifiers or the message text any more.
        needles = [*notations(bsn, mobile, email), marker, web_text, mail_text]
        stores = await every_document(apps["intake"].state.infra.mongo, [db.name for db in dbs.values()])
        assert len(stores) >= 10, sorted(stores)
        leaks = {(where, needle) for where, text in stores.items() for needle in needles if needle.lower() in text.lower()}
        assert leaks == set()

        # 5. The metrics figures are the same as before the erasure.
        norms_after = (await clients["metrics"].get("/v1/service-norms", params={"from": DAY, "to": DAY})).json()
        assert norms_after == norms_before

    # 6. No event on any kcc.* topic, from the beginning, carries the identifiers in clear.
    scanned, events = await every_event_on_every_topic(real_stack["kafka"])
    assert {"kcc.contact.received.v1", "kcc.call.events.v1", "kcc.callback.requested.v1", "kcc.deadletter.v1",
            "kcc.citizen.erasure-requested.v1", "kcc.dept.sozawe.contacts.v1"} <= set(scanned)
    # The scan saw this citizen's events (by their ids), so finding nothing below means something.
    for contact_id in (web_id, call_contact, mail_id, accepted["erasure_id"]):
        assert any(contact_id.encode() in raw for _, raw in events), contact_id
    identifiers = notations(bsn, mobile, email)
    leaks_on_topics = [
        (topic, needle) for topic, raw in events for needle in identifiers if needle.lower().encode() in raw.lower()
    ]
    assert leaks_on_topics == []
    # The content went only where it is needed (routing's input, SOZAWE's topic), identifiers masked.
    with_content = [(topic, raw) for topic, raw in events if marker.encode() in raw]
    assert {topic for topic, _ in with_content} == {"kcc.contact.received.v1", "kcc.dept.sozawe.contacts.v1"}
    masked = "Mijn BSN is [bsn], bel me op [telefoon] of mail [e-mail]."
    assert sum(masked.encode() in raw for _, raw in with_content) == 2
