"""The outbox of outgoing messages: acknowledgements and e-mail answers through the SMTP relay,
social answers to the integrator's reply webhook. Each message is stored before anyone waits
for it (never sent inside a request or an SMTP transaction), then sent by a worker with
retries and exponential back-off.

Exactly once: a message is one document (`_id` derived from what it answers, so queueing it
twice is one message); a worker takes it with one conditional update (a lease, so two workers
never send it at once); the relay's 250 or the webhook's 2xx marks it sent. Only a crash
between the relay accepting it and that mark sends it again, with the same Message-ID (or
`Idempotency-Key`), so the receiving side can still tell. A message's announcement (the event
saying it went out) is recorded after the mark, and a worker finishes it after a crash."""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.tasks import stop_tasks
from kcc_shared.webhooks import sign

from kcc_intake.settings import DeliverySettings, SmtpSettings

log = logging.getLogger(__name__)

DELIVERIES = "deliveries"
KEEP_S = 30 * 24 * 3600


class PermanentFailure(Exception):
    """The relay or the webhook refused for good (5xx, 4xx): retrying cannot help."""


class TemporaryFailure(Exception):
    """Try again later (a 4xx from the relay, a 5xx or no answer from a webhook)."""


class DeliveryRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._deliveries = db[DELIVERIES]

    async def ensure_indexes(self) -> None:
        await self._deliveries.create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)], name="due")
        await self._deliveries.create_index([("contact_id", ASCENDING)], name="contact_id")
        # A message holds an address and a text: gone a month after it was queued (long since sent,
        # given up, or bounced: bounces come within days).
        await self._deliveries.create_index("queued_at", name="retention_ttl", expireAfterSeconds=KEEP_S)
        # Only messages in a worker's hands have a lease (a retry or the announcement clears it).
        await self._deliveries.create_index([("lease_until", ASCENDING)], name="lease_until")

    async def queue(self, doc: dict[str, Any]) -> bool:
        """Queue a message once (its `_id` decides); False when it was queued before."""
        now = datetime.now(UTC)
        result = await self._deliveries.update_one(
            {"_id": doc["_id"]},
            {"$setOnInsert": {
                **doc, "state": "pending", "attempts": 0, "next_attempt_at": now, "queued_at": now,
                "lease_until": None, "announced": False,
            }},
            upsert=True,
        )
        return result.upserted_id is not None

    async def take(self, *, now: datetime, lease: timedelta) -> dict[str, Any] | None:
        """One due message for this worker (a conditional update: of racing workers one wins).
        Two indexed reads rather than one `$or`, which the store would answer with a scan."""
        taken = {"$set": {"lease_until": now + lease}}
        due = await self._deliveries.find_one_and_update(
            {"state": "pending", "next_attempt_at": {"$lte": now}}, taken,
            sort=[("state", ASCENDING), ("next_attempt_at", ASCENDING)], return_document=ReturnDocument.AFTER,
        )
        if due is not None:
            return due
        # A worker that stopped mid-send (or after sending, before announcing) lost its lease.
        return await self._deliveries.find_one_and_update(
            {"lease_until": {"$lt": now}, "announced": False, "state": {"$in": ["sending", "sent", "failed"]}}, taken,
            sort=[("lease_until", ASCENDING)], hint="lease_until", return_document=ReturnDocument.AFTER,
        )

    async def sending(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._deliveries.find_one_and_update(
            {"_id": delivery_id, "state": {"$in": ["pending", "sending"]}},
            {"$set": {"state": "sending"}, "$inc": {"attempts": 1}}, return_document=ReturnDocument.AFTER,
        )

    async def sent(self, delivery_id: str, *, at: datetime) -> None:
        await self._deliveries.update_one({"_id": delivery_id, "state": "sending"}, {"$set": {"state": "sent", "sent_at": at}})

    async def retry(self, delivery_id: str, *, at: datetime, error: str) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id, "state": "sending"},
            {"$set": {"state": "pending", "next_attempt_at": at, "lease_until": None, "last_error": error}},
        )

    async def failed(self, delivery_id: str, *, at: datetime, error: str) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id, "state": {"$in": ["pending", "sending"]}},
            {"$set": {"state": "failed", "failed_at": at, "last_error": error}},
        )

    async def announced(self, delivery_id: str) -> None:
        await self._deliveries.update_one({"_id": delivery_id}, {"$set": {"announced": True, "lease_until": None}})

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._deliveries.find_one({"_id": delivery_id})

    async def erase(self, contact_ids: list[str]) -> int:
        if not contact_ids:
            return 0
        return (await self._deliveries.delete_many({"contact_id": {"$in": sorted(set(contact_ids))}})).deleted_count


def email_of(message: dict[str, Any]) -> EmailMessage:
    """The MIME message a stored e-mail delivery describes."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = message["from"], message["to"], message["subject"]
    mail["Message-ID"] = message["message_id"]
    mail["Date"] = message["date"]
    if message.get("in_reply_to"):
        mail["In-Reply-To"] = message["in_reply_to"]
    if message.get("references"):
        mail["References"] = " ".join(message["references"])
    if message.get("auto_submitted"):
        mail["Auto-Submitted"] = message["auto_submitted"]
    mail.set_content(message["text"])
    for attachment in message.get("attachments_inline") or []:
        maintype, _, subtype = attachment["content_type"].partition("/")
        mail.add_attachment(attachment["content"], maintype=maintype, subtype=subtype or "octet-stream", filename=attachment["filename"])
    return mail


# What the worker calls once a message is sent (or given up): records the event that says so.
Announce = Callable[[dict[str, Any]], Awaitable[None]]
LoadAttachments = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]]]]


@dataclass
class Senders:
    smtp: SmtpSettings
    social_secret: str | None
    timeout_s: float

    async def email(self, message: dict[str, Any], *, envelope_from: str, attachments: list[dict[str, Any]]) -> None:
        mail = email_of({**message, "attachments_inline": attachments})
        password = self.smtp.relay_password.get_secret_value() if self.smtp.relay_password else None
        try:
            await aiosmtplib.send(
                mail, sender=envelope_from, recipients=[message["to"]],
                hostname=self.smtp.relay_host, port=self.smtp.relay_port,
                username=self.smtp.relay_username, password=password, timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"relay refused the recipient: {exc.recipients[0].code} {exc.recipients[0].message}") from exc
            raise TemporaryFailure(f"relay deferred the recipient: {codes}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"relay refused: {exc.code} {exc.message}") from exc
            raise TemporaryFailure(f"relay deferred: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"relay unreachable: {exc!r}") from exc

    async def webhook(self, url: str, payload: dict[str, Any], *, idempotency_key: str) -> None:
        if not self.social_secret:
            raise PermanentFailure("no `social` webhook secret configured to sign the reply with")
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {"content-type": "application/json", "Idempotency-Key": idempotency_key, **sign(self.social_secret, body)}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"webhook unreachable: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TemporaryFailure(f"webhook answered {response.status_code}")
        if response.status_code >= 300:
            raise PermanentFailure(f"webhook refused: {response.status_code}")


class DeliveryWorker:
    """Sends what the outbox holds, one message at a time, with back-off between attempts."""

    def __init__(
        self, *, repository: DeliveryRepository, senders: Senders, settings: DeliverySettings, bounce_mailbox: str,
        announce: Announce, load_attachments: LoadAttachments,
    ) -> None:
        self._repo, self._senders, self._settings = repository, senders, settings
        self._bounce_mailbox = bounce_mailbox
        self._announce, self._load_attachments = announce, load_attachments
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def envelope_from(self, delivery_id: str) -> str:
        """bounces+<delivery id>@domain: a delivery status notification names the message it is about."""
        local, _, domain = self._bounce_mailbox.partition("@")
        return f"{local}+{delivery_id}@{domain}"

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="delivery-outbox")

    async def stop(self) -> None:
        await stop_tasks([self._task])
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store away a moment: the next round tries again
                log.exception("delivery round failed")
                worked = False
            if not worked:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_interval_s)

    async def run_once(self) -> bool:
        """Handle one due message; False when none was due."""
        now = datetime.now(UTC)
        job = await self._repo.take(now=now, lease=timedelta(seconds=self._settings.lease_s))
        if job is None:
            return False
        if job["state"] in ("pending", "sending"):
            job = await self._repo.sending(job["_id"])
            if job is None:
                return True
            await self._attempt(job)
            job = await self._repo.get(job["_id"])
        if job is not None and job["state"] in ("sent", "failed") and not job.get("announced"):
            await self._announce(job)
            await self._repo.announced(job["_id"])
        return True

    async def _attempt(self, job: dict[str, Any]) -> None:
        try:
            if job["channel"] == "email":
                attachments = await self._load_attachments(job)
                await self._senders.email(job["message"], envelope_from=self.envelope_from(job["_id"]), attachments=attachments)
            else:
                await self._senders.webhook(job["webhook_url"], job["payload"], idempotency_key=job["_id"])
        except TemporaryFailure as exc:
            now = datetime.now(UTC)
            if job["attempts"] >= self._settings.max_attempts:
                await self._repo.failed(job["_id"], at=now, error=f"{exc} (after {job['attempts']} attempts)")
                log.error("delivery given up", extra={"delivery_id": job["_id"], "error": str(exc)})
                return
            delay = min(self._settings.backoff_initial_s * 2 ** (job["attempts"] - 1), self._settings.backoff_max_s)
            await self._repo.retry(job["_id"], at=now + timedelta(seconds=delay), error=str(exc))
            log.warning("delivery deferred", extra={"delivery_id": job["_id"], "attempt": job["attempts"], "retry_in_s": delay, "error": str(exc)})
            return
        except PermanentFailure as exc:
            await self._repo.failed(job["_id"], at=datetime.now(UTC), error=str(exc))
            log.error("delivery refused", extra={"delivery_id": job["_id"], "error": str(exc)})
            return
        await self._repo.sent(job["_id"], at=datetime.now(UTC))
        log.info("delivery sent", extra={"delivery_id": job["_id"], "attempt": job["attempts"]})
