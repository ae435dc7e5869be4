"""Answering a citizen across services on the real stack: an e-mail with a PDF arrives over
SMTP at intake, routing queues it for the owning department's skill, an agent sees the PDF
(byte-identical, same SHA-256) where another department is refused, answers it through a relay
that refuses twice (one threaded reply arrives), and a bounce puts the contact back in the queue."""

import asyncio
import hashlib
import os
import smtplib
from contextlib import AsyncExitStack
from email.message import EmailMessage

import httpx
import pytest

from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.testing import client_auth, running, unique

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n" + os.urandom(20_000)


def send(port: int, raw: bytes | EmailMessage, *, sender: str | None = None, to: list[str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        if isinstance(raw, EmailMessage):
            smtp.send_message(raw)
        else:
            smtp.sendmail(sender or "", to or [], raw)


async def poll(fetch, accept, *, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if accept(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_an_email_is_answered_once_and_a_bounce_puts_it_back_in_the_queue(service_env, relay_sink, monkeypatch):
    service_env("intake")
    service_env("routing")
    monkeypatch.setenv("KCC_INTAKE_SMTP__RELAY_PORT", str(relay_sink.port))
    monkeypatch.setenv("KCC_INTAKE_DELIVERY__POLL_INTERVAL_S", "0.1")
    monkeypatch.setenv("KCC_INTAKE_DELIVERY__BACKOFF_INITIAL_S", "0.2")
    intake = intake_app(IntakeSettings())
    routing = routing_app(RoutingSettings())
    async with AsyncExitStack() as stack:
        intake_client = await stack.enter_async_context(running(intake))
        routing_client = await stack.enter_async_context(running(routing))
        smtp_port = intake.state.smtp[0].sockets[0].getsockname()[1]

        def as_roles(*roles: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://intake", auth=client_auth(list(roles)))

        agent, other = as_roles("agent"), as_roles("department:sozawe")
        stack.push_async_callback(agent.aclose)
        stack.push_async_callback(other.aclose)

        # 1. The citizen's e-mail, with the tax assessment as PDF, over SMTP.
        message_id = f"<{unique('aanslag')}@example.nl>"
        question = EmailMessage()
        question["From"], question["To"], question["Message-ID"] = "Jan Smit <jan.smit@example.nl>", "belastingen@groningen.nl", message_id
        # A clear case for the classifier (confidence 0.96), so the reply's path does not hang on a
        # guess near the triage threshold.
        question["Subject"] = "Bezwaar tegen mijn aanslag afvalstoffenheffing"
        question.set_content("Goedendag, op mijn aanslag afvalstoffenheffing staat een te hoog bedrag. Ik maak daar bezwaar tegen. Zie de bijlage.")
        question.add_attachment(PDF, maintype="application", subtype="pdf", filename="aanslag.pdf")
        await asyncio.to_thread(send, smtp_port, question)
        timeline = await poll(lambda: agent.get("/v1/citizens/timeline", params={"email": "jan.smit@example.nl", "reason": "antwoord nakijken"}), lambda r: r.json()["total"] == 1)
        [contact] = timeline.json()["contacts"]
        contact_id = contact["contact_id"]

        # 2. Routing decides and queues it; intake learns the owning department from the decision.
        decision = await poll(lambda: routing_client.get(f"/v1/decisions/{contact_id}"), lambda r: r.status_code == 200)
        assert decision.json()["decision"] == "answer_in_kcc", decision.json()
        department = decision.json()["department_id"]
        assert department == "belastingen", decision.json()

        # 3. The PDF, byte-identical, to an agent and the owner; another department is refused.
        [described] = contact["attachments"]
        url = f"/v1/contacts/{contact_id}/attachments/{described['attachment_id']}"
        served = await agent.get(url)
        assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == hashlib.sha256(PDF).hexdigest()
        assert served.headers["x-content-sha256"] == described["sha256"] == hashlib.sha256(PDF).hexdigest()
        async with as_roles(f"department:{department}") as owner:
            owned = await poll(lambda: owner.get(url), lambda r: r.status_code == 200, timeout=60)
            assert owned.content == PDF
        refused = await other.get(url)
        assert refused.status_code == 404 and PDF not in refused.content

        # 4. An agent takes it from the queue, answers it, and resolves it; the relay refuses twice.
        queue = await routing_client.get("/v1/queues", params={"skill": department})
        assert [i["contact_id"] for i in queue.json()["items"]] == [contact_id]
        assert (await routing_client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "agent-7"})).status_code == 200
        relay_sink.refuse(2, lambda m: str(m["Message-ID"]).startswith("<reply-"))
        reply = await agent.post(f"/v1/contacts/{contact_id}/replies", json={"text": "Beste heer Smit,\n\nHet bedrag klopt niet: u krijgt 45 euro terug."})
        assert reply.status_code == 201, reply.text
        reply = reply.json()
        resolved = await routing_client.post(
            f"/v1/queues/items/{contact_id}/resolve", json={"agent_id": "agent-7", "outcome": "answered_in_kcc", "handle_time_s": 240}
        )
        assert resolved.status_code == 200, resolved.text
        sent = await poll(lambda: agent.get(f"/v1/contacts/{contact_id}/replies/{reply['reply_id']}"), lambda r: r.json()["status"] == "sent")
        assert sent.json()["status"] == "sent"
        await asyncio.sleep(0.5)  # room for a (wrong) second delivery
        answers = [m for m in relay_sink.messages if m["Message-ID"] == reply["message_id"]]
        assert len(relay_sink.refused) == 2 and len(answers) == 1
        assert answers[0]["In-Reply-To"] == message_id and message_id in answers[0]["References"]
        assert (await routing_client.get("/v1/queues", params={"skill": department})).json()["items"] == []

        # 5. The citizen's mailbox does not exist any more: the bounce puts the contact back in the queue.
        bounce_to = relay_sink.envelope_senders[relay_sink.messages.index(answers[0])]
        assert bounce_to == f"bounces+reply-{reply['reply_id']}@groningen.nl"
        dsn = (
            f"From: MAILER-DAEMON@mx.example.nl\r\nTo: {bounce_to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\n"
            "Final-Recipient: rfc822; jan.smit@example.nl\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
        ).encode()
        await asyncio.to_thread(send, smtp_port, dsn, to=[bounce_to])
        back = await poll(lambda: routing_client.get("/v1/queues", params={"skill": department}), lambda r: r.json()["items"] != [])
        assert [i["contact_id"] for i in back.json()["items"]] == [contact_id]
        undelivered = (await agent.get(f"/v1/contacts/{contact_id}/replies/{reply['reply_id']}")).json()
        assert undelivered["status"] == "undelivered" and "5.1.1" in undelivered["undelivered_reason"]
        # And an agent can take it up again.
        assert (await routing_client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "agent-9"})).status_code == 200
