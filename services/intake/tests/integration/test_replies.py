"""Attachments kept and answers sent, on the real stack: intake in-process on the real broker
and store, a real SMTP relay sink, a real webhook receiver, and `pdftotext` for letters."""

import asyncio
import base64
import hashlib
import json
import os
import shutil
import smtplib
import subprocess
from datetime import UTC, datetime
from email.message import EmailMessage

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from kcc_intake.app import create_app
from kcc_intake.settings import IntakeSettings
from kcc_shared.contracts import CONTACT_ANSWERED, CONTACT_ROUTED, Channel, ContactRouted, ContactRoutedData
from kcc_shared.testing import WebhookReceiver, client_auth, credentials, running, unique
from kcc_shared.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

pytestmark = pytest.mark.integration

# A small but real PDF (what a citizen's scanner or phone makes is larger, not different).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n" + os.urandom(3000)
)


def data_of(record) -> dict:
    return json.loads(record.value)["data"]


def send_smtp(port: int, msg: EmailMessage, *, to: list[str] | None = None, sender: str | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg, from_addr=sender, to_addrs=to)


def question(message_id: str, *, attachment: bytes = PDF) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "Jan Smit <jan.smit@example.nl>", "belastingen@groningen.nl", "Bezwaar aanslag", message_id
    msg["References"] = "<eerder-123@example.nl>"
    msg.set_content("Goedendag, bijgaand mijn aanslag. Klopt het bedrag van de afvalstoffenheffing?")
    msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="aanslag-2026.pdf")
    return msg


async def until(predicate, *, timeout: float = 15.0, interval: float = 0.1):
    """The predicate's first truthy value (a coroutine function), or its last value after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


def as_roles(app, *roles: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service", auth=client_auth(list(roles)))


async def route_to(department: str, contact_id: str) -> None:
    """What routing publishes when it names a contact's owner (routing itself is not running here)."""
    event = ContactRouted.create(
        data=ContactRoutedData(
            contact_id=contact_id, channel=Channel.EMAIL, decision="answer_in_kcc", reason="test", department_id=department,
            routed_at=datetime.now(UTC),
        ),
        source="/kcc/test", subject=contact_id,
    )
    producer = AIOKafkaProducer(bootstrap_servers=os.environ["KCC_KAFKA_BOOTSTRAP"], acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(CONTACT_ROUTED.name, event.model_dump_json().encode(), key=contact_id.encode())
    finally:
        await producer.stop()


async def email_contact(intake, message_id: str, *, attachment: bytes = PDF) -> dict:
    await asyncio.to_thread(send_smtp, intake.smtp_port, question(message_id, attachment=attachment))
    [record] = await intake.contacts.read(count=1, match=lambda r: data_of(r)["channel_message_id"] == message_id)
    return data_of(record)


async def test_email_attachment_kept_served_to_the_owner_and_refused_to_another_department(intake):
    message_id = f"<{unique('pdf')}@example.nl>"
    contact = await email_contact(intake, message_id)
    [described] = contact["attachments"]
    # Referenced, never embedded: name, type, size, id and checksum; no content in the event.
    assert set(described) == {"filename", "content_type", "size", "attachment_id", "sha256"}
    assert described["size"] == len(PDF) and described["sha256"] == hashlib.sha256(PDF).hexdigest()
    url = f"/v1/contacts/{contact['contact_id']}/attachments/{described['attachment_id']}"
    await route_to("belastingen", contact["contact_id"])

    async with as_roles(intake.app, "agent") as agent, as_roles(intake.app, "department:belastingen") as owner, \
            as_roles(intake.app, "department:burgerzaken") as other:
        served = await agent.get(url)
        assert served.status_code == 200, served.text
        assert served.content == PDF and hashlib.sha256(served.content).hexdigest() == served.headers["x-content-sha256"]
        assert served.headers["content-type"] == "application/pdf"
        listed = (await agent.get(f"/v1/contacts/{contact['contact_id']}/attachments")).json()
        assert listed == [{**described, "filename": "aanslag-2026.pdf"}]
        owner_answer = await until(lambda: _ok(owner.get(url)))
        assert owner_answer.content == PDF  # once intake heard routing name the owner
        refused = await other.get(url)
        assert refused.status_code == 404 and refused.content != PDF, refused.text
        assert (await other.get(f"/v1/contacts/{contact['contact_id']}/attachments")).status_code == 404


async def _ok(request):
    response = await request
    return response if response.status_code == 200 else None


async def test_attachments_over_the_limits_are_refused_with_the_reason(intake_env, monkeypatch, topic_reader):
    intake_env()
    monkeypatch.setenv("KCC_INTAKE_MAX_ATTACHMENT_BYTES", "2048")
    monkeypatch.setenv("KCC_INTAKE_MAX_CONTACT_ATTACHMENT_BYTES", "3072")
    app = create_app(IntakeSettings())
    async with running(app) as client:
        form = {"form_id": "contactformulier", "subject": "Foto", "message": "Zie bijlage", "email": "a@example.nl"}

        def file(size: int, name: str = "foto.jpg") -> dict:
            return {"filename": name, "content_type": "image/jpeg", "content_base64": base64.b64encode(b"x" * size).decode()}

        one = await client.post("/v1/channels/web/submissions", json={**form, "attachments": [file(1500), file(2049, "groot.jpg")]})
        assert one.status_code == 413 and one.json()["detail"].startswith("attachments[1]: groot.jpg is 2049 bytes"), one.text
        both = await client.post("/v1/channels/web/submissions", json={**form, "attachments": [file(2000), file(2000)]})
        assert both.status_code == 413 and "4000 bytes together, more than 3072 per contact" in both.json()["detail"]
        bad = await client.post("/v1/channels/web/submissions", json={**form, "attachments": [{**file(10), "content_base64": "%%%"}]})
        assert bad.status_code == 422 and "attachments[0].content_base64" in bad.json()["detail"]
        fine = await client.post("/v1/channels/web/submissions", json={**form, "attachments": [file(2000, "oké.jpg")]})
        assert fine.status_code == 202, fine.text
        listed = (await client.get(f"/v1/contacts/{fine.json()['contact_id']}/attachments")).json()
        assert [(a["filename"], a["size"], a["sha256"]) for a in listed] == [("oké.jpg", 2000, hashlib.sha256(b"x" * 2000).hexdigest())]
        smtp_port = app.state.smtp[0].sockets[0].getsockname()[1]
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(send_smtp, smtp_port, question(f"<{unique('big')}@example.nl>", attachment=b"y" * 2500))
        assert refused.value.smtp_code == 552 and b"2500 bytes, more than 2048 per attachment" in refused.value.smtp_error


async def test_email_reply_threaded_and_delivered_once_though_the_relay_refuses_twice(intake, mail_sink, topic_reader):
    answered = await topic_reader(CONTACT_ANSWERED.name)
    message_id = f"<{unique('vraag')}@example.nl>"
    contact = await email_contact(intake, message_id)
    mail_sink.refuse(2, lambda m: str(m["Message-ID"]).startswith("<reply-"))
    attachment = base64.b64encode(b"%PDF-1.4 toelichting").decode()
    response = await intake.post(
        f"/v1/contacts/{contact['contact_id']}/replies",
        json={"text": "Beste {naam},\n\nHet bedrag klopt: u woont met twee personen. Uw vraag van {ontvangen} heeft kenmerk {referentie}.",
              "name": "heer Smit", "attachments": [
            {"filename": "toelichting.pdf", "content_type": "application/pdf", "content_base64": attachment}]},
    )
    assert response.status_code == 201, response.text
    reply = response.json()
    assert (reply["channel"], reply["status"]) == ("email", "queued")
    sent = await until(lambda: _reply_status(intake, contact["contact_id"], reply["reply_id"], "sent"))
    assert sent, "the reply was not sent"
    await asyncio.sleep(0.5)  # room for a (wrong) second delivery
    delivered = [m for m in mail_sink.messages if m["Message-ID"] == reply["message_id"]]
    assert len(mail_sink.refused) == 2 and len(delivered) == 1
    [mail] = delivered
    assert mail["To"] == "jan.smit@example.nl" and mail["In-Reply-To"] == message_id
    assert message_id in mail["References"] and contact["reference"] in mail["Subject"] and mail["Subject"].startswith("Re: Bezwaar aanslag")
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith("Beste heer Smit,\n\nHet bedrag klopt") and f"heeft kenmerk {contact['reference']}." in body
    assert "{" not in body  # a reply template's placeholders are filled in
    [part] = list(mail.iter_attachments())
    assert (part.get_filename(), part.get_payload(decode=True)) == ("toelichting.pdf", b"%PDF-1.4 toelichting")
    sender = mail_sink.envelope_senders[mail_sink.messages.index(mail)]
    assert sender == f"bounces+reply-{reply['reply_id']}@groningen.nl"  # where a bounce comes back to
    events = await answered.read(count=2, match=lambda r: data_of(r)["contact_id"] == contact["contact_id"], timeout=5)
    assert [json.loads(e.value)["type"] for e in events] == ["nl.contactstad.contact.answered"]
    data = data_of(events[0])
    assert (data["reply_id"], data["reply_channel"], data["channel"]) == (reply["reply_id"], "email", "email")
    assert "text" not in data and "Smit" not in events[0].value.decode()  # no content, no identifiers
    assert data["attachments"][0]["sha256"] == hashlib.sha256(b"%PDF-1.4 toelichting").hexdigest()
    # The reply shows in the citizen's timeline beside the question.
    timeline = (await intake.get("/v1/citizens/timeline", params={"email": "jan.smit@example.nl", "reason": "antwoord nakijken"})).json()
    [entry] = [c for c in timeline["contacts"] if c["contact_id"] == contact["contact_id"]]
    assert [(r["reply_id"], r["status"]) for r in entry["replies"]] == [(reply["reply_id"], "sent")]
    # The same Idempotency-Key is the same reply.
    again = [await intake.post(f"/v1/contacts/{contact['contact_id']}/replies", json={"text": "Nog iets"}, headers={"Idempotency-Key": "k1"}) for _ in range(2)]
    assert again[1].json()["reply_id"] == again[0].json()["reply_id"] and again[1].json()["duplicate"] is True


async def _reply_status(intake, contact_id, reply_id, status):
    response = await intake.get(f"/v1/contacts/{contact_id}/replies/{reply_id}")
    return response.json() if response.json()["status"] == status else None


async def test_acknowledgement_goes_through_the_outbox_and_survives_a_busy_relay(intake, mail_sink):
    message_id = f"<{unique('ack')}@example.nl>"
    mail_sink.refuse(1, lambda m: m["In-Reply-To"] == message_id)
    await email_contact(intake, message_id)  # the SMTP transaction ended before any acknowledgement was tried
    acks = await until(lambda: _acks(mail_sink, message_id))
    await asyncio.sleep(0.5)
    assert len(mail_sink.refused) == 1 and len(_sync_acks(mail_sink, message_id)) == 1, acks


def _sync_acks(sink, message_id):
    return [m for m in sink.messages if m["In-Reply-To"] == message_id and m["Auto-Submitted"] == "auto-replied"]


async def _acks(sink, message_id):
    return _sync_acks(sink, message_id)


async def test_a_call_is_followed_up_by_email_or_letter_on_the_same_path(intake, mail_sink):
    call = await intake.post("/v1/channels/telephone/events", json={
        "event": "offered", "call_id": unique("call"), "at": datetime.now(UTC).isoformat(), "dialled_number": "14050",
        "caller_number": "0612345678",
    })
    contact_id = call.json()["contact_id"]
    no_channel = await intake.post(f"/v1/contacts/{contact_id}/replies", json={"text": "Zoals besproken."})
    assert no_channel.status_code == 422 and no_channel.json()["detail"].startswith("channel:")
    no_address = await intake.post(f"/v1/contacts/{contact_id}/replies", json={"text": "Zoals besproken.", "channel": "email"})
    assert no_address.status_code == 422 and no_address.json()["detail"].startswith("email:")
    follow_up = await intake.post(
        f"/v1/contacts/{contact_id}/replies",
        json={"text": "Zoals besproken aan de telefoon: de link naar het formulier.", "channel": "email", "email": "Piet@Example.NL"},
    )
    assert follow_up.status_code == 201, follow_up.text
    assert await until(lambda: _reply_status(intake, contact_id, follow_up.json()["reply_id"], "sent"))
    [mail] = [m for m in mail_sink.messages if m["Message-ID"] == follow_up.json()["message_id"]]
    assert mail["To"] == "piet@example.nl" and mail["In-Reply-To"] is None  # nothing to thread on: it was a call
    letter = await intake.post(f"/v1/contacts/{contact_id}/replies", json={"text": "Zoals besproken.", "channel": "letter"})
    assert letter.status_code == 201 and letter.json()["status"] == "ready_for_post"


async def test_a_reply_stored_but_never_queued_is_sent_once_when_the_request_is_retried(intake, mail_sink):
    contact = await email_contact(intake, f"<{unique('crash')}@example.nl>")
    first = await intake.post(f"/v1/contacts/{contact['contact_id']}/replies", json={"text": "Het bedrag klopt."}, headers={"Idempotency-Key": "k-crash"})
    db = intake.app.state.infra.db
    # As if the process stopped between storing the reply and queueing its message: only the reply is there.
    assert await until(lambda: _reply_status(intake, contact["contact_id"], first.json()["reply_id"], "sent"))
    await db["deliveries"].delete_one({"_id": f"reply-{first.json()['reply_id']}"})
    await db["replies"].update_one({"_id": first.json()["reply_id"]}, {"$set": {"status": "queued"}, "$unset": {"sent_at": ""}})
    mail_sink.messages.clear()
    retried = await intake.post(f"/v1/contacts/{contact['contact_id']}/replies", json={"text": "Het bedrag klopt."}, headers={"Idempotency-Key": "k-crash"})
    assert retried.json()["reply_id"] == first.json()["reply_id"] and retried.json()["duplicate"] is True
    assert await until(lambda: _reply_status(intake, contact["contact_id"], first.json()["reply_id"], "sent"))
    again = await intake.post(f"/v1/contacts/{contact['contact_id']}/replies", json={"text": "Het bedrag klopt."}, headers={"Idempotency-Key": "k-crash"})
    assert again.json()["status"] == "sent"
    await asyncio.sleep(0.5)
    assert [m["Message-ID"] for m in mail_sink.messages if str(m["Message-ID"]).startswith("<reply-")] == [first.json()["message_id"]]


def dsn(*, to: str, original_message_id: str) -> bytes:
    """A delivery status notification (RFC 3464) as a receiving server sends it back."""
    return (
        f"From: MAILER-DAEMON@mx.example.nl\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.nl\r\n\r\n"
        "Final-Recipient: rfc822; jan.smit@example.nl\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original_message_id}\r\n\r\n--b1--\r\n"
    ).encode()


def send_raw(port: int, raw: bytes, *, to: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("", [to], raw)  # a bounce has the null sender


async def test_a_bounce_marks_the_reply_undelivered_and_announces_it(intake, mail_sink, topic_reader):
    answered = await topic_reader(CONTACT_ANSWERED.name)
    contact = await email_contact(intake, f"<{unique('bounce')}@example.nl>")
    reply = (await intake.post(f"/v1/contacts/{contact['contact_id']}/replies", json={"text": "Het bedrag klopt."})).json()
    assert await until(lambda: _reply_status(intake, contact["contact_id"], reply["reply_id"], "sent"))
    bounce_to = f"bounces+reply-{reply['reply_id']}@groningen.nl"
    await asyncio.to_thread(send_raw, intake.smtp_port, dsn(to=bounce_to, original_message_id=reply["message_id"]), to=bounce_to)
    undelivered = await until(lambda: _reply_status(intake, contact["contact_id"], reply["reply_id"], "undelivered"))
    assert undelivered and "5.1.1" in undelivered["undelivered_reason"]
    events = await answered.read(count=2, match=lambda r: data_of(r)["contact_id"] == contact["contact_id"])
    assert [json.loads(e.value)["type"] for e in events] == ["nl.contactstad.contact.answered", "nl.contactstad.contact.reply-undelivered"]
    assert data_of(events[1])["received_at"] and "5.1.1" in data_of(events[1])["reason"]


PLAIN = "U kunt uw nieuwe paspoort ophalen bij de balie in het Stadhuis. Neem uw oude paspoort mee. Dat is alles."
CONVOLUTED = (
    "Naar aanleiding van uw schriftelijke verzoek tot heroverweging van de onderhavige belastingaanslag delen wij u mede dat, "
    "gelet op de toepasselijke verordening en de daarin opgenomen tariefbepalingen, alsmede de bestendige jurisprudentie "
    "terzake, de aanslag ongewijzigd gehandhaafd dient te worden, behoudens nadere bewijsvoering uwerzijds."
)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing: make install installs it")
async def test_answer_letter_pdf_holds_reference_and_answer_and_warns_above_b1(intake, topic_reader):
    answered = await topic_reader(CONTACT_ANSWERED.name)
    letter = await intake.post("/v1/channels/letters", json={
        "scan_reference": unique("scan"), "received_on": "2026-11-23", "ocr_text": "Mijn paspoort is verlopen. Wat moet ik doen?",
        "subject": "Paspoort verlopen",
    })
    contact_id, reference = letter.json()["contact_id"], letter.json()["reference"]
    replies = {}
    for name, text in (("plain", PLAIN), ("convoluted", CONVOLUTED)):
        response = await intake.post(f"/v1/contacts/{contact_id}/replies", json={
            "text": text, "salutation": "Geachte mevrouw De Vries,", "decision": name == "convoluted",
            "address": {"lines": ["Mevrouw M. de Vries", "Herestraat 1", "9711 LA Groningen"]},
        })
        assert response.status_code == 201, response.text
        replies[name] = response.json()
    assert replies["plain"]["readability"]["above_b1"] is False and replies["plain"]["readability"]["warning"] is None
    assert replies["convoluted"]["readability"]["above_b1"] is True and "boven B1" in replies["convoluted"]["readability"]["warning"]
    assert replies["plain"]["readability"]["flesch_douma"] >= 60 > replies["convoluted"]["readability"]["flesch_douma"]
    assert replies["plain"]["status"] == "ready_for_post"
    async with as_roles(intake.app, "integrator:letter") as post_room, as_roles(intake.app, "department:burgerzaken") as other:
        texts = {}
        for name, reply in replies.items():
            pdf = await post_room.get(reply["letter_url"])
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text
            assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["x-content-sha256"]
            texts[name] = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout.decode()
        assert (await other.get(replies["plain"]["letter_url"])).status_code == 404  # routed to no department: not theirs
    flat = {name: " ".join(text.split()) for name, text in texts.items()}
    assert reference in flat["plain"] and PLAIN in flat["plain"] and "Geachte mevrouw De Vries," in flat["plain"]
    assert "Herestraat 1" in flat["plain"] and "14 050" in flat["plain"] and "Bezwaar maken" not in flat["plain"]
    assert "Bezwaar maken" in flat["convoluted"] and "binnen 6 weken" in flat["convoluted"]  # a decision carries the objection notice
    events = await answered.read(count=2, match=lambda r: data_of(r)["contact_id"] == contact_id)
    assert sorted(data_of(e)["above_b1"] for e in events) == [False, True]
    assert all(data_of(e)["reply_channel"] == "letter" for e in events)


class FlakyReceiver(WebhookReceiver):
    """Answers 503 to the first `failures` posts, then `status`; counts every post."""

    def __init__(self, *, failures: int) -> None:
        super().__init__(status=204)
        self.failures, self.posts = failures, 0

    async def _handle(self, reader, writer):
        self.posts += 1
        self.status = 503 if self.posts <= self.failures else 204
        await super()._handle(reader, writer)


async def test_social_reply_reaches_the_integrator_webhook_once_signed(intake_env, monkeypatch, topic_reader):
    receiver = FlakyReceiver(failures=1)
    url = await receiver.start()
    intake_env()
    monkeypatch.setenv("KCC_INTAKE_SOCIAL__REPLY_WEBHOOK_URL", url)
    app = create_app(IntakeSettings())
    try:
        async with running(app) as client:
            message = {"platform": "facebook", "message_id": unique("fb"), "handle": "MariekeG", "text": "Wanneer wordt het grofvuil opgehaald?", "thread_id": "t-9"}
            contact_id = (await client.post("/v1/channels/social/messages", json=message)).json()["contact_id"]
            reply = (await client.post(f"/v1/contacts/{contact_id}/replies", json={"text": "Op woensdag, na aanmelding via 14 050."})).json()
            assert reply["channel"] == "social"
            assert await until(lambda: _reply_status(client, contact_id, reply["reply_id"], "sent"))
            await asyncio.sleep(0.5)
    finally:
        await receiver.stop()
    assert receiver.posts == 2  # one refused (503), then delivered
    [(headers, body)] = receiver.received
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    secret = credentials().webhook_secrets["social"]
    assert headers[SIGNATURE_HEADER.lower()] == signature(secret, raw, int(headers[TIMESTAMP_HEADER.lower()]))
    assert headers["idempotency-key"] == f"reply-{reply['reply_id']}"
    assert (body["handle"], body["thread_id"], body["in_reply_to"], body["platform"]) == ("mariekeg", "t-9", message["message_id"], "facebook")
    assert body["text"] == "Op woensdag, na aanmelding via 14 050."


async def test_erasure_removes_attachments_and_replies(intake, mail_sink):
    contact = await email_contact(intake, f"<{unique('erase')}@example.nl>")
    reply = (await intake.post(f"/v1/contacts/{contact['contact_id']}/replies", json={"text": "Het bedrag klopt."})).json()
    assert await until(lambda: _reply_status(intake, contact["contact_id"], reply["reply_id"], "sent"))
    url = f"/v1/contacts/{contact['contact_id']}/attachments/{contact['attachments'][0]['attachment_id']}"
    assert (await intake.get(url)).status_code == 200
    erasure = await intake.post("/v1/erasures", json={"email": "jan.smit@example.nl"})
    assert erasure.status_code == 202, erasure.text

    async def erased():
        status = (await intake.get(f"/v1/erasures/{erasure.json()['erasure_id']}")).json()
        return status["services"].get("intake")

    part = await until(erased)
    assert part and part["removed"]["attachments"] >= 1 and part["removed"]["replies"] >= 1, part
    db = intake.app.state.infra.db
    assert await db["attachments.files"].count_documents({"metadata.contact_id": contact["contact_id"]}) == 0
    assert await db["attachments.chunks"].count_documents({}) == await db["attachments.chunks"].count_documents(
        {"files_id": {"$in": [d["_id"] async for d in db["attachments.files"].find({}, {"_id": 1})]}})
    assert await db["replies"].count_documents({"contact_id": contact["contact_id"]}) == 0
    assert await db["deliveries"].count_documents({"contact_id": contact["contact_id"]}) == 0
    assert (await intake.get(url)).status_code == 404
