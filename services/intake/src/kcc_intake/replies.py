"""Answering contacts on the citizen's channel: e-mail (threaded, through the outbox), social
(the integrator's reply webhook, through the outbox) and letters (a PDF the post room fetches),
plus the acknowledgement of receipt for e-mail, which goes through the same outbox.

Every answer is a `ContactAnswered` once it went out (the relay or webhook took it; a letter's
PDF is ready), and a `ContactReplyUndelivered` when it did not arrive (refused for good, or a
delivery status notification came back), which puts the contact back in routing's queue."""

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from kcc_shared.contracts import (
    CONTACT_ANSWERED,
    Attachment,
    Channel,
    CloudEvent,
    ContactAnswered,
    ContactAnsweredData,
    ContactReplyUndelivered,
    ContactReplyUndeliveredData,
    TopicSpec,
    derived_id,
)

from kcc_intake import models as m
from kcc_intake.attachments import AttachmentStore, Limits, Upload, decode_uploads
from kcc_intake.delivery import DeliveryRepository, DeliveryWorker
from kcc_intake.identifiers import normalise_email
from kcc_intake.letters import Letter, dutch_date, objection_notice, readability, render_pdf
from kcc_intake.repository import ContactRepository, ReplyRepository
from kcc_intake.settings import LetterSettings, SmtpSettings, SocialSettings

log = logging.getLogger(__name__)

Record = Callable[..., Awaitable[Any]]  # IntakeService.record: an event through intake's outbox
Acknowledged = Callable[..., Awaitable[Any]]  # IntakeService.acknowledged


PLACEHOLDER = re.compile(r"\{(naam|referentie|ontvangen|datum)\}")


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Routing's reply templates name {naam}, {referentie}, {ontvangen} and {datum}; other braces stay as written."""
    return PLACEHOLDER.sub(lambda m: values[m[1]], text)


class ReplyRefused(ValueError):
    """The reply cannot be made as asked: `field` names what to change (422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class ContactNotFound(LookupError):
    pass


class ReplyService:
    def __init__(
        self, *, contacts: ContactRepository, replies: ReplyRepository, attachments: AttachmentStore,
        deliveries: DeliveryRepository, worker: DeliveryWorker, record: Record, acknowledged: Acknowledged,
        source: str, smtp: SmtpSettings, social: SocialSettings, letters: LetterSettings, limits: Limits, timezone: str,
    ) -> None:
        self._contacts, self._replies, self._attachments = contacts, replies, attachments
        self._deliveries, self._worker, self._record, self._acknowledged = deliveries, worker, record, acknowledged
        self._source, self._smtp, self._social, self._letters = source, smtp, social, letters
        self._limits, self._tz = limits, ZoneInfo(timezone)

    def _message_id(self, local: str) -> str:
        return f"<{local}@{self._smtp.message_id_domain}>"

    # --- the acknowledgement of receipt ----------------------------------------------------------

    async def queue_acknowledgement(self, *, contact_id: str, reference: str, to: str, subject: str, message_id: str | None) -> None:
        """Queue the e-mail acknowledgement once per contact (the outbox sends it, with retries)."""
        text = (
            "Beste inwoner,\n\n"
            f"Wij hebben uw e-mail ontvangen. Uw referentienummer is {reference}.\n"
            "U krijgt binnen 2 werkdagen antwoord.\n\n"
            "Met vriendelijke groet,\nKlantcontactcentrum gemeente Groningen (14 050)\n"
        )
        delivery_id = f"ack-{contact_id}"
        queued = await self._deliveries.queue({
            "_id": delivery_id, "kind": "acknowledgement", "channel": "email", "contact_id": contact_id,
            "message": {
                "from": self._smtp.sender, "to": to, "subject": f"Ontvangstbevestiging {reference}: {subject}".strip().rstrip(":"),
                "message_id": self._message_id(delivery_id), "date": format_datetime(datetime.now(UTC)),
                "in_reply_to": message_id, "references": [message_id] if message_id else [],
                "auto_submitted": "auto-replied", "text": text,
            },
        })
        if queued:
            self._worker.wake()

    # --- replies -----------------------------------------------------------------------------

    async def reply(self, contact_id: str, body: m.ReplyIn, *, replied_by: str, idempotency_key: str | None) -> m.ReplyOut:
        contact = await self._contacts.get(contact_id)
        if contact is None:
            raise ContactNotFound(contact_id)
        reply_id = derived_id(f"reply:{contact_id}", idempotency_key) if idempotency_key else str(uuid.uuid4())
        event = contact.get("event", {}).get("data", {})
        content = contact.get("content") or {}
        reference = event.get("reference") or contact_id
        earlier = await self._replies.get(reply_id)
        if earlier is not None:
            if earlier["status"] == "queued" and "text" in earlier:
                await self._dispatch(contact, earlier, reference=reference)  # a retry finishes what a crash left undone
            return self._out(earlier, duplicate=True)
        channel = self._channel_for(contact, body.channel, email=body.email)
        today = datetime.now(UTC).astimezone(self._tz).date()
        values = {
            "naam": body.name or "heer, mevrouw", "referentie": reference, "datum": dutch_date(today),
            "ontvangen": dutch_date(contact["received_at"].astimezone(self._tz).date()),
        }
        body = body.model_copy(update={
            "text": fill_placeholders(body.text, values), "subject": fill_placeholders(body.subject, values) if body.subject else None,
        })
        subject = body.subject or content.get("subject") or event.get("subject") or "Uw vraag"
        uploads = decode_uploads(body.attachments)
        self._limits.check(uploads)
        check = readability(body.text, b1_min=self._letters.b1_min_flesch_douma)
        stored = [
            await self._attachments.put(
                attachment_id=derived_id(reply_id, f"attachment:{i}"), contact_id=contact_id, upload=upload, kind="reply", reply_id=reply_id,
            )
            for i, upload in enumerate(uploads)
        ]
        now = datetime.now(UTC)
        reply: dict[str, Any] = {
            "_id": reply_id, "contact_id": contact_id, "channel": channel, "contact_channel": contact["channel"],
            "text": body.text, "subject": subject, "replied_by": replied_by, "created_at": now, "status": "queued",
            "attachments": stored, "department_id": contact.get("department_id"), "received_at": contact["received_at"],
            "readability": {
                "flesch_douma": check.flesch_douma, "band": check.band, "words": check.words, "sentences": check.sentences,
                "above_b1": check.above_b1, "warning": check.warning,
            },
        }
        if channel == "email":
            reply["message_id"] = self._message_id(f"reply-{reply_id}")
            reply["to"] = normalise_email(body.email) if body.email else contact["citizen"]["email"]
        if channel == "letter":
            reply.update(await self._letter(contact, body, reply_id=reply_id, reference=reference, subject=subject, at=now))
        taken = await self._replies.insert(reply)
        if taken is not None:
            return self._out(taken, duplicate=True)
        await self._dispatch(contact, reply, reference=reference)
        log.info("reply made", extra={"contact_id": contact_id, "reply_id": reply_id, "channel": channel})
        return self._out(reply)

    async def _dispatch(self, contact: dict[str, Any], reply: dict[str, Any], *, reference: str) -> None:
        """Queue the answer in the outbox of outgoing messages (a letter: announce it). Idempotent:
        the message's id and the event's id derive from the reply, so a retried request (same
        Idempotency-Key) after a crash between storing the reply and queueing it completes it once."""
        if reply["channel"] == "email":
            await self._queue_email(contact, reply, reference=reference)
        elif reply["channel"] == "social":
            await self._queue_social(contact, reply)
        else:
            await self._record(self._answered(reply, at=reply["sent_at"]), topic=CONTACT_ANSWERED, contact_id=contact["_id"])

    def _channel_for(self, contact: dict[str, Any], asked: str | None, *, email: str | None) -> str:
        citizen = contact.get("citizen") or {}
        channel = asked or {"email": "email", "web": "email", "letter": "letter", "social": "social"}.get(contact["channel"])
        if channel is None:
            raise ReplyRefused("channel", f"a {contact['channel']} contact has no written channel of its own: name email or letter")
        if channel == "email" and not (email or citizen.get("email")):
            raise ReplyRefused("email", "the citizen gave no e-mail address: give one, or answer by letter")
        if channel == "social":
            if contact["channel"] != "social":
                raise ReplyRefused("channel", "only a social contact can be answered on social media")
            if not self._social.reply_webhook_url:
                raise ReplyRefused("channel", "no social reply webhook is configured (KCC_INTAKE_SOCIAL__REPLY_WEBHOOK_URL)")
        return channel

    async def _queue_email(self, contact: dict[str, Any], reply: dict[str, Any], *, reference: str) -> None:
        event = contact.get("event", {}).get("data", {})
        original = event.get("channel_message_id") if contact["channel"] == "email" else None
        thread = event.get("thread_id") if contact["channel"] == "email" else None
        references = [r for r in (thread, original) if r]
        subject = reply["subject"]
        subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        text = f"{reply['text'].rstrip()}\n\nMet vriendelijke groet,\n{self._letters.signature}\n\nOns kenmerk: {reference}\n"
        await self._deliveries.queue({
            "_id": f"reply-{reply['_id']}", "kind": "reply", "channel": "email", "contact_id": contact["_id"], "reply_id": reply["_id"],
            "attachment_ids": [a["attachment_id"] for a in reply["attachments"]],
            "message": {
                "from": self._smtp.reply_from, "to": reply["to"], "subject": f"{subject} [{reference}]",
                "message_id": reply["message_id"], "date": format_datetime(reply["created_at"]),
                "in_reply_to": original, "references": references, "text": text,
            },
        })
        self._worker.wake()

    async def _queue_social(self, contact: dict[str, Any], reply: dict[str, Any]) -> None:
        event = contact.get("event", {}).get("data", {})
        handle = (contact.get("citizen") or {}).get("social_handle", "")
        await self._deliveries.queue({
            "_id": f"reply-{reply['_id']}", "kind": "reply", "channel": "social", "contact_id": contact["_id"], "reply_id": reply["_id"],
            "webhook_url": self._social.reply_webhook_url,
            "payload": {
                "reply_id": reply["_id"], "contact_id": contact["_id"], "platform": event.get("platform"),
                "handle": handle.partition(":")[2] or None, "thread_id": event.get("thread_id"),
                "in_reply_to": event.get("channel_message_id"), "text": reply["text"],
                "attachments": reply["attachments"],
            },
        })
        self._worker.wake()

    async def _letter(
        self, contact: dict[str, Any], body: m.ReplyIn, *, reply_id: str, reference: str, subject: str, at: datetime
    ) -> dict[str, Any]:
        department = contact.get("department_id")
        decision = body.decision if body.decision is not None else department in self._letters.objection_departments
        letter = Letter(
            municipality=self._letters.municipality, return_address=self._letters.return_address,
            addressee=body.address.lines if body.address else ["Aan de afzender van uw brief"],
            reference=reference, date=at.astimezone(self._tz).date(), subject=subject,
            salutation=body.salutation or "Geachte heer, mevrouw,", answer=body.text, signature=self._letters.signature,
            contact_line=self._letters.contact_line,
            objection_notice=objection_notice(self._letters.objection_weeks, self._letters.municipality) if decision else None,
        )
        pdf = await self._attachments.put(
            attachment_id=f"letter-{reply_id}", contact_id=contact["_id"], kind="letter", reply_id=reply_id,
            upload=Upload(filename=f"antwoord-{reference}.pdf", content_type="application/pdf", content=render_pdf(letter)),
        )
        return {"status": "ready_for_post", "sent_at": at, "letter": pdf, "objection_notice": decision}

    async def letter_pdf(self, *, contact_id: str, reply_id: str) -> tuple[dict[str, Any], bytes] | None:
        return await self._attachments.get(contact_id=contact_id, attachment_id=f"letter-{reply_id}")

    async def get(self, *, contact_id: str, reply_id: str) -> m.ReplyOut | None:
        reply = await self._replies.get(reply_id)
        return self._out(reply) if reply is not None and reply["contact_id"] == contact_id else None

    def _out(self, reply: dict[str, Any], *, duplicate: bool = False) -> m.ReplyOut:
        letter_url = f"/v1/contacts/{reply['contact_id']}/replies/{reply['_id']}/letter" if reply.get("letter") else None
        return m.ReplyOut(
            reply_id=reply["_id"], contact_id=reply["contact_id"], channel=reply["channel"], status=reply["status"],
            created_at=reply["created_at"], sent_at=reply.get("sent_at"), message_id=reply.get("message_id"),
            attachments=reply.get("attachments", []), readability=reply.get("readability"), letter_url=letter_url,
            undelivered_reason=reply.get("undelivered_reason"), duplicate=duplicate,
        )

    async def with_replies(self, page: m.TimelinePage) -> m.TimelinePage:
        """The timeline shows each contact's answers beside the question."""
        replies = await self._replies.of_contacts([c["contact_id"] for c in page.contacts])
        for contact in page.contacts:
            contact["replies"] = [
                {
                    "reply_id": r["_id"], "channel": r["channel"], "status": r["status"], "text": r.get("text"),
                    "created_at": r["created_at"].isoformat(), "sent_at": r["sent_at"].isoformat() if r.get("sent_at") else None,
                    "replied_by": r.get("replied_by"),
                }
                for r in replies.get(contact["contact_id"], [])
            ]
        return page

    # --- what the outbox reports --------------------------------------------------------------

    async def load_attachments(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """The files an e-mail carries, read from the store when it is sent (never copied into the outbox)."""
        files = []
        for attachment_id in job.get("attachment_ids") or []:
            found = await self._attachments.get(contact_id=job["contact_id"], attachment_id=attachment_id)
            if found is not None:
                meta, content = found
                files.append({"filename": meta["filename"], "content_type": meta["content_type"], "content": content})
        return files

    async def announce(self, job: dict[str, Any]) -> None:
        """A message went out (or was given up): the event that says so, once (derived ids)."""
        if job["kind"] == "acknowledgement":
            if job["state"] == "sent":
                await self._acknowledged(job["contact_id"], at=job["sent_at"], means="email")
            return
        reply = await self._replies.get(job["reply_id"])
        if reply is None:
            return  # erased meanwhile
        if job["state"] == "sent":
            await self._replies.update(reply["_id"], {"status": "sent", "sent_at": job["sent_at"]}, unless_status="undelivered")
            await self._record(self._answered(reply, at=job["sent_at"]), topic=CONTACT_ANSWERED, contact_id=reply["contact_id"])
        else:
            await self._undelivered(reply, reason=job.get("last_error") or "refused", at=job.get("failed_at") or datetime.now(UTC))

    async def bounced(self, *, delivery_id: str, raw: bytes) -> str:
        """A delivery status notification came back for one of our messages; what was done."""
        report = dsn_failure(raw)
        if report is None:
            return "not a failure report: ignored"
        job = await self._deliveries.get(delivery_id)
        if job is None:
            return "unknown message: ignored"
        if job["kind"] != "reply":
            log.warning("acknowledgement bounced", extra={"contact_id": job["contact_id"], "reason": report})
            return "acknowledgement bounced: noted"
        reply = await self._replies.get(job["reply_id"])
        if reply is None:
            return "reply erased: ignored"
        await self._undelivered(reply, reason=f"bounce: {report}", at=datetime.now(UTC))
        return "reply marked undelivered"

    async def _undelivered(self, reply: dict[str, Any], *, reason: str, at: datetime) -> None:
        await self._replies.update(reply["_id"], {"status": "undelivered", "undelivered_reason": reason, "undelivered_at": at})
        data = ContactReplyUndeliveredData(
            contact_id=reply["contact_id"], reply_id=reply["_id"], channel=Channel(reply["contact_channel"]),
            reply_channel=reply["channel"], received_at=reply["received_at"], department_id=reply.get("department_id"),
            reason=reason[:500], undelivered_at=at,
        )
        event = ContactReplyUndelivered.create(
            data=data, source=self._source, subject=reply["contact_id"], event_id=derived_id(f"reply:{reply['_id']}", "undelivered"),
        )
        await self._record(event, topic=CONTACT_ANSWERED, contact_id=reply["contact_id"])
        log.warning("reply undelivered", extra={"contact_id": reply["contact_id"], "reply_id": reply["_id"], "reason": reason})

    def _answered(self, reply: dict[str, Any], *, at: datetime) -> CloudEvent:
        check = reply.get("readability") or {}
        attachments = [Attachment(**a) for a in reply.get("attachments", [])]
        if reply.get("letter"):
            attachments.append(Attachment(**reply["letter"]))
        data = ContactAnsweredData(
            contact_id=reply["contact_id"], reply_id=reply["_id"], channel=Channel(reply["contact_channel"]),
            reply_channel=reply["channel"], answered_at=at, replied_by=reply.get("replied_by"),
            department_id=reply.get("department_id"), attachments=attachments,
            readability=check.get("flesch_douma") if reply["channel"] == "letter" else None,
            above_b1=check.get("above_b1") if reply["channel"] == "letter" else None,
        )
        return ContactAnswered.create(
            data=data, source=self._source, subject=reply["contact_id"], event_id=derived_id(f"reply:{reply['_id']}", "answered"), time=at,
        )


def dsn_failure(raw: bytes) -> str | None:
    """The failure a delivery status notification (RFC 3464) reports, or None when it reports none
    (delayed, delivered) or is no DSN at all."""
    msg = message_from_bytes(raw, policy=policy.default)
    if msg.get_content_type() != "multipart/report":
        return None
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        groups: list[Message] = [g for g in part.get_payload() if isinstance(g, Message)]
        for group in groups[1:] or groups:  # the first group is per message, the rest per recipient
            if str(group.get("Action", "")).strip().lower() == "failed":
                status = str(group.get("Status", "")).strip()
                diagnostic = str(group.get("Diagnostic-Code", "")).strip()
                return " ".join(x for x in (status, "(failed)", diagnostic) if x)
    return None
