"""The e-mail channel: a real SMTP listener, MIME parsing, and one acknowledgement per message."""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from kcc_shared.contracts import Attachment, Channel, CitizenIdentifiers

from kcc_intake import models as m
from kcc_intake.identifiers import normalise_email
from kcc_intake.repository import ContactRepository
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
        attachments = [
            Attachment(
                filename=part.get_filename() or "unnamed",
                content_type=part.get_content_type(),
                size=len(part.get_payload(decode=True) or b""),
            )
            for part in msg.iter_attachments()
        ]
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
        )
    except MalformedMail:
        raise
    except Exception as exc:  # the email package raises many kinds on broken input
        raise MalformedMail(f"cannot parse message: {exc}") from exc


class EmailIntake:
    """Registers a mail as a contact and acknowledges it to the sender, once."""

    def __init__(self, *, intake: IntakeService, contacts: ContactRepository, settings: SmtpSettings) -> None:
        self._intake, self._contacts, self._settings = intake, contacts, settings

    def accepts(self, address: str) -> bool:
        return normalise_email(address) in {normalise_email(a) for a in self._settings.mailboxes}

    async def accept(self, mail: ParsedMail, *, received_at: datetime | None = None) -> m.Accepted:
        accepted = await self._intake.accept(
            channel=Channel.EMAIL,
            dedup_key=mail.message_id or None,
            fields={
                "received_at": received_at or datetime.now(UTC),
                "subject": mail.subject or None,
                "text": mail.text if mail.text is not None else mail.html,
                "channel_message_id": mail.message_id or None,
                "thread_id": mail.in_reply_to,
                "attachments": mail.attachments,
                "citizen": CitizenIdentifiers(email=mail.from_address),
            },
        )
        if self._settings.acknowledge and not mail.automatic:
            await self._acknowledge(accepted, mail)
        return accepted

    async def _acknowledge(self, accepted: m.Accepted, mail: ParsedMail) -> None:
        if not await self._contacts.claim_acknowledgement(accepted.contact_id):
            return  # already acknowledged (a duplicate of this message)
        ack = EmailMessage()
        ack["From"] = self._settings.sender
        ack["To"] = mail.from_address
        ack["Subject"] = f"Ontvangstbevestiging {accepted.reference}: {mail.subject}".strip().rstrip(":")
        ack["Auto-Submitted"] = "auto-replied"
        if mail.message_id:
            ack["In-Reply-To"] = mail.message_id
        ack.set_content(
            "Beste inwoner,\n\n"
            f"Wij hebben uw e-mail ontvangen. Uw referentienummer is {accepted.reference}.\n"
            "U krijgt binnen 2 werkdagen antwoord.\n\n"
            "Met vriendelijke groet,\nKlantcontactcentrum gemeente Groningen (14 050)\n"
        )
        password = self._settings.relay_password.get_secret_value() if self._settings.relay_password else None
        try:
            await aiosmtplib.send(
                ack, hostname=self._settings.relay_host, port=self._settings.relay_port,
                username=self._settings.relay_username, password=password, timeout=10,
            )
            log.info("acknowledgement sent", extra={"contact_id": accepted.contact_id, "reference": accepted.reference})
            await self._intake.acknowledged(accepted.contact_id, at=datetime.now(UTC), means="email")
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.error("acknowledgement not sent", extra={"contact_id": accepted.contact_id, "error": repr(exc)})


class SmtpHandler:
    """aiosmtpd handler: 550 for unknown mailboxes, 554 for unparseable mail, 250 with the reference."""

    def __init__(self, mail: EmailIntake) -> None:
        self._mail = mail

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:  # noqa: N802
        if not self._mail.accepts(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        try:
            parsed = parse_mime(envelope.original_content or envelope.content)
        except MalformedMail as exc:
            return f"554 5.6.0 {exc}"
        try:
            accepted = await self._mail.accept(parsed)
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
