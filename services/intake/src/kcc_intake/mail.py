"""The e-mail channel: a real SMTP listener, MIME parsing, attachments kept, one acknowledgement
per message (queued in the outbox of outgoing messages, never sent inside the SMTP transaction),
and delivery status notifications for what we sent (`bounces+<delivery>@…`)."""

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from aiosmtpd.smtp import SMTP, Envelope, Session

from kcc_shared.contracts import Attachment, Channel, CitizenIdentifiers

from kcc_intake import models as m
from kcc_intake.attachments import AttachmentTooLarge, Upload, mail_uploads
from kcc_intake.identifiers import normalise_email
from kcc_intake.replies import ReplyService
from kcc_intake.service import IntakeService
from kcc_intake.settings import SmtpSettings

log = logging.getLogger(__name__)


class MalformedMail(ValueError):
    pass


@dataclass
class ParsedMail:
    message_id: str
    from_address: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    in_reply_to: str | None = None
    automatic: bool = False
    uploads: list[Upload] = field(default_factory=list)  # the attachments' content (SMTP); None for a provider's description


def parse_mime(raw: bytes) -> ParsedMail:
    """Subject, text and HTML bodies and attachment descriptions of a MIME message."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        sender = normalise_email(parseaddr(str(msg.get("From", "")))[1])
        if "@" not in sender:
            raise MalformedMail("no valid From address")
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        uploads = mail_uploads(msg)
        attachments = [Attachment(filename=u.filename, content_type=u.content_type, size=len(u.content)) for u in uploads]
        return ParsedMail(
            message_id=str(msg.get("Message-ID", "")).strip() or "",
            from_address=sender,
            to=[normalise_email(a) for _, a in getaddresses([str(v) for v in msg.get_all("To", [])]) if a],
            subject=str(msg.get("Subject", "")),
            text=text_part.get_content() if text_part else None,
            html=html_part.get_content() if html_part else None,
            attachments=attachments,
            in_reply_to=str(msg.get("In-Reply-To")) if msg.get("In-Reply-To") else None,
            automatic=str(msg.get("Auto-Submitted", "no")).lower() != "no",
            uploads=uploads,
        )
    except MalformedMail:
        raise
    except Exception as exc:  # the email package raises many kinds on broken input
        raise MalformedMail(f"cannot parse message: {exc}") from exc


class EmailIntake:
    """Registers a mail as a contact, keeps its attachments, and queues its acknowledgement, once."""

    def __init__(self, *, intake: IntakeService, replies: ReplyService, settings: SmtpSettings) -> None:
        self._intake, self._replies, self._settings = intake, replies, settings

    def accepts(self, address: str) -> bool:
        return normalise_email(address) in {normalise_email(a) for a in self._settings.mailboxes}

    def bounce_delivery(self, address: str) -> str | None:
        """The delivery a `bounces+<delivery>@domain` address names; None for any other address."""
        local, _, domain = normalise_email(address).partition("@")
        bounce_local, _, bounce_domain = self._settings.bounce_mailbox.lower().partition("@")
        base, plus, delivery = local.partition("+")
        return delivery if plus and base == bounce_local and domain == bounce_domain and delivery else None

    async def bounced(self, delivery_id: str, raw: bytes) -> str:
        return await self._replies.bounced(delivery_id=delivery_id, raw=raw)

    async def accept(self, mail: ParsedMail, *, received_at: datetime | None = None) -> m.Accepted:
        contact_id = str(uuid.uuid4())
        attachments = await self._intake.keep_attachments(
            mail.uploads, contact_id=contact_id, key=f"email:{mail.message_id or contact_id}"
        ) if mail.uploads else mail.attachments
        accepted = await self._intake.accept(
            channel=Channel.EMAIL,
            dedup_key=mail.message_id or None,
            contact_id=contact_id,
            fields={
                "received_at": received_at or datetime.now(UTC),
                "subject": mail.subject or None,
                "text": mail.text if mail.text is not None else mail.html,
                "channel_message_id": mail.message_id or None,
                "thread_id": mail.in_reply_to,
                "attachments": attachments,
                "citizen": CitizenIdentifiers(email=mail.from_address),
            },
        )
        if self._settings.acknowledge and not mail.automatic:
            # Queued, not sent: the outbox sends it after the SMTP transaction, with retries.
            await self._replies.queue_acknowledgement(
                contact_id=accepted.contact_id, reference=accepted.reference or accepted.contact_id,
                to=mail.from_address, subject=mail.subject, message_id=mail.message_id or None,
            )
        return accepted


class SmtpHandler:
    """aiosmtpd handler: 550 for unknown mailboxes, 554 for unparseable mail, 250 with the reference."""

    def __init__(self, mail: EmailIntake) -> None:
        self._mail = mail

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:  # noqa: N802
        if not self._mail.accepts(address) and self._mail.bounce_delivery(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        bounces = [d for d in (self._mail.bounce_delivery(a) for a in envelope.rcpt_tos) if d]
        if bounces:
            try:
                done = [await self._mail.bounced(delivery_id, raw) for delivery_id in bounces]
            except Exception:
                log.exception("bounce not processed")
                return "451 4.3.0 Temporary failure, please retry"
            return f"250 OK {'; '.join(done)}"
        try:
            parsed = parse_mime(raw)
        except MalformedMail as exc:
            return f"554 5.6.0 {exc}"
        try:
            accepted = await self._mail.accept(parsed)
        except AttachmentTooLarge as exc:
            return f"552 5.3.4 {exc}"
        except Exception:
            log.exception("mail not accepted")
            return "451 4.3.0 Temporary failure, please retry"
        return f"250 OK {accepted.reference}"


async def start_smtp(mail: EmailIntake, settings: SmtpSettings, *, max_bytes: int) -> asyncio.Server:
    """Serve SMTP on the running event loop (not in a thread of its own)."""
    handler = SmtpHandler(mail)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True, hostname="kcc-intake"),
        host=settings.host, port=settings.port,
    )
