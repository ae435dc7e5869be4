"""Each of the six channels on the real stack: a realistic Dutch contact in, the event out."""

import asyncio
import hashlib
import json
import smtplib
from email.message import EmailMessage

import pytest

from kcc_shared.contracts import CALL_EVENTS, CONTACT_ACKNOWLEDGED, COUNTER_EVENTS
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


def by_contact(contact_id):
    return lambda record: json.loads(record.value)["data"]["contact_id"] == contact_id


def data_of(record) -> dict:
    return json.loads(record.value)["data"]


async def published_contact(intake, contact_id) -> dict:
    [record] = await intake.contacts.read(count=1, match=by_contact(contact_id))
    assert record.key == contact_id.encode()
    return data_of(record)


def mail(*, message_id: str, sender: str = "M.deVries@Example.NL", to: str = "info@groningen.nl") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = f"Marieke de Vries <{sender}>", to, "Vraag over de hondenbelasting", message_id
    msg.set_content("Goedemiddag, wij hebben sinds maart een hond. Hoe meld ik die aan voor de hondenbelasting?")
    msg.add_alternative("<p>Goedemiddag, wij hebben sinds maart een hond.</p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4 inentingsbewijs", maintype="application", subtype="pdf", filename="inenting.pdf")
    return msg


def send_smtp(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


async def resolve(intake, pseudonym: str) -> str:
    """The clear value behind a pseudonym, from intake's registry."""
    response = await intake.get(f"/v1/registry/pseudonyms/{pseudonym}")
    assert response.status_code == 200, response.text
    assert response.json()["pseudonym"] == pseudonym
    return response.json()["value"]


async def test_web_form(intake):
    response = await intake.post(
        "/v1/channels/web/submissions",
        json={
            "form_id": "contactformulier", "submission_id": unique("web"), "subject": "Parkeervergunning",
            "message": "Ik ben verhuisd naar de Herestraat. Kan ik mijn parkeervergunning overzetten?",
            "email": "P.Bakker@Example.nl", "phone": "06 2345 6789", "bsn": "111222333",
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["published"] is True and body["reference"].startswith("KCC-")
    data = await published_contact(intake, body["contact_id"])
    assert (data["channel"], data["subject"], data["reference"]) == ("web", "Parkeervergunning", body["reference"])
    # The event names the citizen by pseudonyms only; intake's registry resolves them.
    assert data["citizen"]["social_handle"] is None
    resolved = {kind: await resolve(intake, data["citizen"][kind]) for kind in ("bsn", "phone", "email")}
    assert resolved == {"bsn": "111222333", "phone": "+31623456789", "email": "p.bakker@example.nl"}
    assert data["citizen_key"] == data["citizen"]["bsn"]
    assert (await intake.get("/v1/registry/pseudonyms/phone:" + "0" * 32)).status_code == 404


async def test_web_appointment_booking(intake, topic_reader):
    counter = await topic_reader(COUNTER_EVENTS.name)
    booking = unique("afspraak")
    response = await intake.post(
        "/v1/channels/web/appointments",
        json={"booking_id": booking, "product": "paspoort", "location": "stadsbalie", "scheduled_for": "2026-12-03T10:20:00+01:00", "email": "a@b.nl"},
    )
    assert response.status_code == 202, response.text
    data = await published_contact(intake, response.json()["contact_id"])
    assert data["channel"] == "web" and data["subject"] == "Afspraak paspoort"
    [appointment] = await counter.read(count=1, match=lambda r: data_of(r)["appointment_id"] == booking)
    assert data_of(appointment)["status"] == "booked" and data_of(appointment)["contact_id"] == data["contact_id"]


async def test_telephone_call_life_cycle(intake, topic_reader):
    calls = await topic_reader(CALL_EVENTS.name)
    call = unique("call")
    cti = [
        {"event": "offered", "call_id": call, "at": "2026-11-23T09:14:00+01:00", "dialled_number": "050-3671000", "caller_number": "0501234567", "ivr_choice": "2"},
        {"event": "answered", "call_id": call, "at": "2026-11-23T09:14:18+01:00", "agent_id": "agent-17", "wait_s": 18},
        {"event": "ended", "call_id": call, "at": "2026-11-23T09:19:12+01:00", "talk_s": 265, "hold_s": 30, "wrap_up_s": 45},
    ]
    responses = [await intake.post("/v1/channels/telephone/events", json=event) for event in cti]
    assert [r.status_code for r in responses] == [202, 202, 202]
    contact_id = responses[0].json()["contact_id"]
    data = await published_contact(intake, contact_id)
    assert (data["channel"], data["service_line"]) == ("telephone", "belastingen")
    assert await resolve(intake, data["citizen"]["phone"]) == "+31501234567"
    records = await calls.read(count=3, match=lambda r: data_of(r)["call_id"] == call)
    assert [json.loads(r.value)["type"].rsplit(".", 1)[1] for r in records] == ["offered", "answered", "ended"]
    assert {r.key for r in records} == {call.encode()}  # one call, one partition, in order
    assert data_of(records[2])["talk_s"] == 265


async def test_email_over_smtp_with_one_acknowledgement(intake, mail_sink):
    message_id = f"<{unique('mail')}@example.nl>"
    await asyncio.to_thread(send_smtp, intake.smtp_port, mail(message_id=message_id))
    await asyncio.to_thread(send_smtp, intake.smtp_port, mail(message_id=message_id))  # the mail server retried
    records = await intake.contacts.read(count=2, match=lambda r: data_of(r)["channel_message_id"] == message_id, timeout=5)
    assert len(records) == 1
    data = data_of(records[0])
    assert (data["channel"], data["subject"]) == ("email", "Vraag over de hondenbelasting")
    assert await resolve(intake, data["citizen"]["email"]) == "m.devries@example.nl"
    assert data["text"].startswith("Goedemiddag, wij hebben sinds maart een hond.")
    [attachment] = data["attachments"]  # described and referenced; the content stays with intake
    assert {k: attachment[k] for k in ("filename", "content_type", "size")} == {"filename": "inenting.pdf", "content_type": "application/pdf", "size": 24}
    assert attachment["sha256"] == hashlib.sha256(b"%PDF-1.4 inentingsbewijs").hexdigest() and attachment["attachment_id"]
    for _ in range(50):
        if mail_sink.messages:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # room for a (wrong) second acknowledgement to arrive
    acks = [m for m in mail_sink.messages if m["In-Reply-To"] == message_id]
    assert len(acks) == 1
    assert acks[0]["To"] == "m.devries@example.nl"
    assert data["reference"] in acks[0]["Subject"] and data["reference"] in acks[0].get_content()


async def test_email_from_a_provider_webhook(intake, mail_sink):
    message_id = f"<{unique('hook')}@mailprovider.example>"
    response = await intake.post(
        "/v1/channels/email/inbound",
        json={
            "message_id": message_id, "from_address": "Jan@Example.NL", "to": ["KCC@groningen.nl"],
            "subject": "Container kapot", "text": "Onze groene container heeft een gebroken deksel.",
            "attachments": [{"filename": "deksel.jpg", "content_type": "image/jpeg", "size": 81234}],
        },
    )
    assert response.status_code == 202, response.text
    data = await published_contact(intake, response.json()["contact_id"])
    assert (data["channel"], data["attachments"][0]["size"]) == ("email", 81234)
    assert await resolve(intake, data["citizen"]["email"]) == "jan@example.nl"
    for _ in range(50):
        if any(m["In-Reply-To"] == message_id for m in mail_sink.messages):
            break
        await asyncio.sleep(0.1)
    assert sum(m["In-Reply-To"] == message_id for m in mail_sink.messages) == 1


async def test_counter_visit(intake, topic_reader):
    counter = await topic_reader(COUNTER_EVENTS.name)
    ticket = unique("B")
    stages = ["drawn", "called", "served"]
    responses = [
        await intake.post(
            "/v1/channels/counter/visits",
            json={"ticket_id": ticket, "location": "stadsbalie", "stage": stage, "at": f"2026-11-23T10:0{i}:00+01:00", "service_line": "burgerzaken", "desk": "balie 3"},
        )
        for i, stage in enumerate(stages)
    ]
    assert [r.status_code for r in responses] == [202, 202, 202]
    data = await published_contact(intake, responses[0].json()["contact_id"])
    assert (data["channel"], data["service_line"]) == ("counter", "burgerzaken")
    records = await counter.read(count=3, match=lambda r: data_of(r).get("ticket_id") == ticket)
    assert [data_of(r)["stage"] for r in records] == stages


async def test_letter_with_deadlines(intake):
    response = await intake.post(
        "/v1/channels/letters",
        json={
            "scan_reference": unique("scan"), "received_on": "2026-12-24", "bsn": "123456782",
            "ocr_text": "Geachte heer/mevrouw, Hierbij maak ik bezwaar tegen de aanslag onroerendezaakbelasting. Ik heb het formulier op intemet niet kunnen gebmiken.",
        },
    )
    assert response.status_code == 202, response.text
    data = await published_contact(intake, response.json()["contact_id"])
    assert data["channel"] == "letter" and "gebmiken" in data["text"]
    assert data["acknowledge_due_at"].startswith("2027-01-04T23:59:59")
    assert data["answer_due_at"].startswith("2027-02-04T23:59:59")


async def test_social_message(intake):
    response = await intake.post(
        "/v1/channels/social/messages",
        json={"platform": "WhatsApp", "message_id": unique("wa"), "handle": "+31612345678", "thread_id": "t-9", "text": "Is het stadhuis morgen open?"},
    )
    assert response.status_code == 202, response.text
    data = await published_contact(intake, response.json()["contact_id"])
    assert (data["channel"], data["platform"], data["thread_id"]) == ("social", "whatsapp", "t-9")


async def test_the_post_room_records_a_letters_acknowledgement(intake, topic_reader):
    acknowledgements = await topic_reader(CONTACT_ACKNOWLEDGED.name)
    response = await intake.post(
        "/v1/channels/letters",
        json={"scan_reference": unique("scan"), "received_on": "2026-12-21", "ocr_text": "Geachte heer/mevrouw, graag een nieuwe kliko."},
    )
    contact_id = response.json()["contact_id"]
    sent = {"acknowledged_at": "2026-12-28T10:00:00+01:00"}
    first = await intake.post(f"/v1/contacts/{contact_id}/acknowledgement", json=sent)
    again = await intake.post(f"/v1/contacts/{contact_id}/acknowledgement", json=sent)  # reported twice: one event
    unknown = await intake.post("/v1/contacts/no-such-contact/acknowledgement", json=sent)
    naive = await intake.post(f"/v1/contacts/{contact_id}/acknowledgement", json={"acknowledged_at": "2026-12-28T10:00:00"})
    assert (first.status_code, again.status_code, unknown.status_code) == (202, 202, 404)
    assert first.json()["event_id"] == again.json()["event_id"]
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body", "acknowledged_at"]
    records = await acknowledgements.read(count=2, match=by_contact(contact_id), timeout=5)
    assert len(records) == 1 and records[0].key == contact_id.encode()
    assert data_of(records[0]) == {
        "contact_id": contact_id, "channel": "letter", "acknowledged_at": "2026-12-28T10:00:00+01:00", "means": "letter",
    }
