"""Never lose, never duplicate, refuse bad input clearly, and find a citizen across channels."""

import asyncio
import json
import smtplib

import pytest

from kcc_intake.app import create_app
from kcc_intake.settings import IntakeSettings
from kcc_shared.contracts import CONTACT_RECEIVED
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration


def form(**fields) -> dict:
    return {"form_id": "contactformulier", "subject": "Bijzondere bijstand", "message": "Kan ik bijzondere bijstand krijgen voor een wasmachine?", **fields}


async def test_duplicate_submissions_give_one_event(intake):
    submission = unique("dup")
    first = await intake.post("/v1/channels/web/submissions", json=form(submission_id=submission))
    second = await intake.post("/v1/channels/web/submissions", json=form(submission_id=submission))
    key = unique("idem")
    third = await intake.post("/v1/channels/web/submissions", json=form(), headers={"Idempotency-Key": key})
    fourth = await intake.post("/v1/channels/web/submissions", json=form(), headers={"Idempotency-Key": key})
    assert [r.status_code for r in (first, second, third, fourth)] == [202] * 4
    assert second.json()["contact_id"] == first.json()["contact_id"] and second.json()["duplicate"] is True
    assert fourth.json()["contact_id"] == third.json()["contact_id"] and fourth.json()["duplicate"] is True
    ours = {first.json()["contact_id"], third.json()["contact_id"]}
    records = await intake.contacts.read(count=4, match=lambda r: json.loads(r.value)["data"]["contact_id"] in ours, timeout=5)
    assert sorted(json.loads(r.value)["data"]["contact_id"] for r in records) == sorted(ours)  # 2 events, not 4


async def test_kafka_down_mid_test_loses_nothing_and_publishes_each_contact_once(intake_env, private_kafka, topic_reader):
    intake_env(bootstrap=private_kafka.bootstrap)
    app = create_app(IntakeSettings())
    async with running(app) as client:
        before = await client.post("/v1/channels/web/submissions", json=form(submission_id=unique("up")))
        assert before.status_code == 202

        await asyncio.to_thread(private_kafka.stop)
        during = []
        for i in range(5):
            response = await client.post("/v1/channels/web/submissions", json=form(submission_id=f"down-{i}-{unique('x')}"))
            assert response.status_code == 202, response.text
            assert response.json()["published"] is False  # safe in the outbox, not on Kafka
            during.append(response.json()["contact_id"])
        retry = await client.post("/v1/channels/web/submissions", json=form(submission_id=unique("r")), headers={"Idempotency-Key": "k-down"})
        again = await client.post("/v1/channels/web/submissions", json=form(submission_id=unique("r")), headers={"Idempotency-Key": "k-down"})
        assert again.json()["contact_id"] == retry.json()["contact_id"]
        during.append(retry.json()["contact_id"])

        await asyncio.to_thread(private_kafka.start)
        topic = await topic_reader(CONTACT_RECEIVED.name, bootstrap=private_kafka.bootstrap)
        # Read the whole topic from the start this time: everything ever published on it.
        for tp in topic._consumer.assignment():  # noqa: SLF001
            topic._consumer.seek(tp, 0)  # noqa: SLF001
        records = await topic.read(count=len(during) + 1, timeout=60)
        await asyncio.sleep(1.0)
        records += await topic.read(count=1, timeout=2)  # anything extra would be a duplicate
    published = [json.loads(r.value)["data"]["contact_id"] for r in records]
    assert sorted(published) == sorted([before.json()["contact_id"], *during])  # each exactly once
    # Within a partition, events appear in the order intake accepted them.
    accepted_order = {contact_id: i for i, contact_id in enumerate(during)}
    for partition in {r.partition for r in records}:
        mine = [json.loads(r.value)["data"]["contact_id"] for r in sorted(records, key=lambda r: r.offset) if r.partition == partition]
        positions = [accepted_order[c] for c in mine if c in accepted_order]
        assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "says"),
    [
        ("/v1/channels/web/submissions", {"form_id": "f", "message": "m"}, {}, 422, "subject"),
        ("/v1/channels/web/submissions", {"form_id": "f", "subject": 5, "message": "m"}, {}, 422, "subject"),
        ("/v1/channels/web/submissions", form(bsn="123456789"), {}, 422, "bsn"),
        ("/v1/channels/web/submissions", form(phone="12345"), {}, 422, "phone"),
        ("/v1/channels/web/submissions", form(message="x" * 2_000_000), {}, 413, "body larger than"),
        ("/v1/channels/web/submissions", "geen json", {"content-type": "application/json"}, 422, "JSON"),
        ("/v1/channels/web/submissions", "form_id=f", {"content-type": "application/x-www-form-urlencoded"}, 415, "application/json"),
        ("/v1/channels/telephone/events", {"event": "teleported", "call_id": "c", "at": "2026-11-23T09:00:00+01:00"}, {}, 422, "event"),
        ("/v1/channels/telephone/events", {"event": "answered", "call_id": "c", "at": "gisteren", "agent_id": "a", "wait_s": 3}, {}, 422, "at"),
        ("/v1/channels/letters", {"scan_reference": "s", "received_on": "2026-13-01", "ocr_text": "t"}, {}, 422, "received_on"),
        ("/v1/channels/email/inbound", {"message_id": "<a@b>", "from_address": "a@b.nl", "to": ["onbekend@elders.nl"], "text": "t"}, {}, 422, "to"),
        ("/v1/channels/email/inbound", {"message_id": "<a@b>", "from_address": "a@b.nl", "to": ["info@groningen.nl"], "attachments": [{"filename": "x.zip", "content_type": "application/zip", "size": 50_000_000}]}, {}, 413, "attachments"),
    ],
)
async def test_bad_input_gets_its_documented_4xx(intake, path, body, headers, status, says):
    if isinstance(body, str):
        response = await intake.post(path, content=body, headers=headers)
    else:
        response = await intake.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.text


async def test_smtp_refuses_unknown_mailboxes_and_malformed_mime(intake):
    def talk():
        with smtplib.SMTP("127.0.0.1", intake.smtp_port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("a@example.nl")
            unknown = smtp.rcpt("niemand@groningen.nl")
            known = smtp.rcpt("info@groningen.nl")
            data = smtp.data(b"From: nobody\r\nSubject: kapot\r\n\r\ngeen afzender")
            return unknown, known, data

    unknown, known, data = await asyncio.to_thread(talk)
    assert unknown[0] == 550 and known[0] == 250
    assert data[0] == 554 and b"From" in data[1]


async def test_the_timeline_shows_a_citizen_across_channels(intake):
    bsn, phone, email = "111222333", "06-55512345", f"{unique('burger')}@example.nl"
    await intake.post("/v1/channels/web/submissions", json=form(bsn=bsn, email=email))
    await intake.post("/v1/channels/letters", json={"scan_reference": unique("s"), "received_on": "2026-11-20", "ocr_text": "Brief over WOZ", "email": email})
    await intake.post("/v1/channels/telephone/events", json={"event": "offered", "call_id": unique("c"), "at": "2026-11-24T08:30:00+01:00", "dialled_number": "14050", "caller_number": phone})
    await intake.post("/v1/channels/web/submissions", json=form(phone=phone, email=email))
    response = await intake.get("/v1/citizens/timeline", params={"email": email.upper(), "phone": phone, "page_size": 3, "reason": "test"})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 4 and len(page["contacts"]) == 3
    times = [c["received_at"] for c in page["contacts"]]
    assert times == sorted(times, reverse=True)
    second = (await intake.get("/v1/citizens/timeline", params={"email": email, "phone": phone, "page_size": 3, "page": 2, "reason": "test"})).json()
    channels = {c["channel"] for c in page["contacts"] + second["contacts"]}
    assert channels == {"web", "letter", "telephone"}
    assert (await intake.get("/v1/citizens/timeline")).status_code == 422
