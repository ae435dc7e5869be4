"""Turns each channel's input into one `ContactReceived` per contact (plus the channel's own
life-cycle events), stored before it is published, and de-duplicated on the channel's id.

Stores go through the group commit (many requests' documents in one bulk write), publishing
through the outbox relay (many events in one acks=all round)."""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from kcc_shared.contracts import (
    CALL_EVENTS,
    CONTACT_ACKNOWLEDGED,
    CONTACT_RECEIVED,
    COUNTER_EVENTS,
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallCallbackRequested,
    CallCallbackRequestedData,
    CallEnded,
    CallEndedData,
    CallOffered,
    CallOfferedData,
    CallTransferred,
    CallTransferredData,
    Channel,
    CitizenIdentifiers,
    CitizenPseudonyms,
    CloudEvent,
    ContactAcknowledged,
    ContactAcknowledgedData,
    ContactReceived,
    ContactReceivedData,
    CounterAppointment,
    CounterAppointmentData,
    CounterVisit,
    CounterVisitData,
    TopicSpec,
    derived_id,
)

from kcc_shared.contracts.events.counter import visit_key
from kcc_shared.pseudonyms import Pseudonymiser
from kcc_shared.telemetry import annotate

from kcc_intake import models as m
from kcc_intake.attachments import AttachmentStore, Limits, Upload, decode_uploads
from kcc_intake.deadlines import letter_deadlines
from kcc_intake.identifiers import normalise_phone
from kcc_intake.groupcommit import GroupCommit
from kcc_intake.outbox import OutboxRelay, outbox_fields
from kcc_intake.redact import redact
from kcc_intake.repository import CONTACTS, OUTBOX, AccessLogRepository, ContactRepository

log = logging.getLogger(__name__)

# identifiers → (kind → pseudonym, the registry entries that remember the values)
RegistryEntries = Callable[[dict[str, str | None]], tuple[dict[str, str], list[dict[str, Any]]]]


def reference_for(contact_id: str) -> str:
    """A short reference the citizen can quote ("KCC-7F3A-2B9E")."""
    code = contact_id.replace("-", "")[:8].upper()
    return f"KCC-{code[:4]}-{code[4:]}"


def citizen_of(fields: m.CitizenFields) -> CitizenIdentifiers:
    return CitizenIdentifiers(bsn=fields.bsn, phone=fields.phone, email=fields.email)


class IntakeService:
    def __init__(
        self, *, contacts: ContactRepository, commit: GroupCommit, relay: OutboxRelay, source: str,
        accept_wait_s: float, number_map: dict[str, str], timezone: str, pseudonyms: Pseudonymiser,
        registry: RegistryEntries | None = None, access_log: AccessLogRepository | None = None,
        attachments: AttachmentStore | None = None, limits: Limits | None = None,
    ) -> None:
        self._contacts, self._commit, self._relay, self._source = contacts, commit, relay, source
        self._access_log = access_log
        self._accept_wait_s, self._number_map, self._tz = accept_wait_s, number_map, ZoneInfo(timezone)
        self._pseudonyms = pseudonyms
        self._registry = registry
        self._attachments, self._limits = attachments, limits

    def pseudonymise(self, identifiers: dict[str, str | None]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """Pseudonyms per identifier kind and, with a registry, the entries that let it resolve
        them (stored with the document that names them)."""
        if self._registry is not None:
            return self._registry(identifiers)
        return self._pseudonyms.of(identifiers), []

    async def accept(
        self, *, channel: Channel, dedup_key: str | None, fields: dict[str, Any], contact_id: str | None = None
    ) -> m.Accepted:
        """Register a contact and publish its `ContactReceived`; the same dedup key is the same contact.
        `contact_id` is the id to give a new contact (one its attachments were stored under)."""
        contact_id = contact_id or str(uuid.uuid4())
        fields = dict(fields)
        citizen: CitizenIdentifiers = fields.pop("citizen", None) or CitizenIdentifiers()
        # The event names the citizen by pseudonyms only, and its content has identifiers masked;
        # the clear values stay in this store (`citizen`) and the registry.
        pseudonyms, registry = self.pseudonymise(citizen.model_dump())
        content = {field: fields.get(field) for field in ("subject", "text") if fields.get(field)}
        for field in content:
            fields[field] = redact(fields[field])
        if fields.get("attachments"):
            # "uittreksel_111222333.pdf" names its citizen as well as the text does.
            named = [a if isinstance(a, dict) else a.model_dump() for a in fields["attachments"]]
            content["attachments"] = named
            fields["attachments"] = [{**a, "filename": redact(a["filename"])} for a in named]
        data = ContactReceivedData(
            contact_id=contact_id, channel=channel, reference=reference_for(contact_id),
            citizen=CitizenPseudonyms(**pseudonyms),
            citizen_key=self._pseudonyms.citizen_key(citizen.model_dump()), **fields,
        )
        event = ContactReceived.create(data=data, source=self._source, subject=contact_id)
        stored = {
            "_id": contact_id,
            "dedup_key": f"{channel.value}:{dedup_key}" if dedup_key else f"id:{contact_id}",
            "channel": channel.value,
            "received_at": data.received_at,
            "citizen": citizen.model_dump(exclude_none=True),
            "pseudonyms": pseudonyms,
            "content": content,  # as the citizen wrote it, unmasked: only in this store
            "event": event.model_dump(mode="json"),
            "event_id": event.id,
            **outbox_fields(event, topic=CONTACT_RECEIVED),
        }
        stored, repeat, pending = await self._commit.write(collection=CONTACTS, doc=stored, registry=registry)
        if repeat:
            event = ContactReceived.model_validate(stored["event"])
        annotate(contact_id=event.data.contact_id, channel=channel.value)  # the request's span, searchable
        published = await self._published(stored, pending)
        if not repeat:
            log.info("contact accepted", extra={"contact_id": contact_id, "channel": channel.value, "event_id": event.id})
        return m.Accepted(
            contact_id=event.data.contact_id, event_id=event.id, reference=event.data.reference,
            duplicate=repeat, published=published,
        )

    async def record(
        self, event: CloudEvent, *, topic: TopicSpec, contact_id: str | None = None,
        registry: list[dict[str, Any]] | None = None,
    ) -> m.Recorded:
        """Publish a channel life-cycle event through the outbox (ids are derived, so repeats are one)."""
        entry = {"_id": event.id, "event_id": event.id, **outbox_fields(event, topic=topic)}
        stored, _, pending = await self._commit.write(collection=OUTBOX, doc=entry, registry=registry)
        published = await self._published(stored, pending)
        return m.Recorded(event_id=event.id, contact_id=contact_id, published=published)

    async def _published(self, stored: dict[str, Any], pending: Any) -> bool:
        """Wait (at most accept_wait_s) for the broker's acknowledgement of a stored event."""
        pending = pending or self._relay.pending(stored["event_id"])
        if pending is None:
            # A repeat of an event this process does not hold: published already, or another
            # replica (or, had that stopped, recovery) publishes it. Publishing it from here
            # too would put it on the topic twice; it is safe in the store either way.
            return await self._relay.published(stored)
        return await self._relay.wait(pending, timeout=self._accept_wait_s)

    # --- channels -------------------------------------------------------------------------

    async def keep_attachments(self, uploads: list[Upload], *, contact_id: str, key: str) -> list[dict[str, Any]]:
        """Store a new contact's files (within the limits: AttachmentTooLarge) before the contact,
        so an event never references content that is not there. Ids derive from the channel's
        message key, so a repeated message stores nothing new and names the first one's files."""
        if not uploads:
            return []
        if self._attachments is None or self._limits is None:
            raise RuntimeError("no attachment store configured")
        self._limits.check(uploads)
        return [
            await self._attachments.put(attachment_id=derived_id(key, f"attachment:{i}"), contact_id=contact_id, upload=upload)
            for i, upload in enumerate(uploads)
        ]

    async def web_form(self, form: m.WebFormSubmission, *, idempotency_key: str | None) -> m.Accepted:
        contact_id = str(uuid.uuid4())
        dedup_key = idempotency_key or form.submission_id
        attachments = await self.keep_attachments(
            decode_uploads(form.attachments), contact_id=contact_id, key=f"web:{dedup_key or contact_id}"
        )
        return await self.accept(
            channel=Channel.WEB,
            dedup_key=dedup_key,
            contact_id=contact_id,
            fields={
                "attachments": attachments,
                "received_at": form.submitted_at or datetime.now(UTC),
                "subject": form.subject,
                "text": form.message,
                "channel_message_id": form.submission_id,
                "citizen": citizen_of(form),
            },
        )

    async def web_appointment(self, booking: m.WebAppointmentBooking, *, idempotency_key: str | None) -> m.Accepted:
        booked_at = booking.booked_at or datetime.now(UTC)
        accepted = await self.accept(
            channel=Channel.WEB,
            dedup_key=idempotency_key or f"appointment:{booking.booking_id}",
            fields={
                "received_at": booked_at,
                "subject": f"Afspraak {booking.product}",
                "text": f"Online afspraak voor {booking.product} op {booking.scheduled_for.isoformat()} ({booking.location})",
                "channel_message_id": booking.booking_id,
                "citizen": citizen_of(booking),
            },
        )
        appointment = CounterAppointmentData(
            appointment_id=booking.booking_id, location=booking.location, status="booked",
            scheduled_for=booking.scheduled_for, at=booked_at, product=booking.product, contact_id=accepted.contact_id,
        )
        await self.record(self._derived(CounterAppointment, appointment, booking.booking_id, "booked"), topic=COUNTER_EVENTS)
        return accepted

    async def call_event(self, call: m.CallEventIn) -> m.Recorded:
        """A CTI event; the first one of a call ('offered') also registers the call as a contact."""
        contact_id, registry = None, []
        if isinstance(call, m.CallOfferedIn):
            line = self._number_map.get(call.dialled_number.replace(" ", "").replace("-", ""), "algemeen")
            caller = _phone_or_none(call.caller_number)
            accepted = await self.accept(
                channel=Channel.TELEPHONE,
                dedup_key=call.call_id,
                fields={
                    "received_at": call.at, "channel_message_id": call.call_id, "service_line": line,
                    "subject": f"Telefoon {line}" + (f" (keuze {call.ivr_choice})" if call.ivr_choice else ""),
                    "citizen": CitizenIdentifiers(phone=caller),
                },
            )
            contact_id = accepted.contact_id
            caller_keys, registry = self.pseudonymise({"phone": caller})
            data: Any = CallOfferedData(
                call_id=call.call_id, dialled_number=call.dialled_number, caller_key=caller_keys.get("phone"),
                ivr_choice=call.ivr_choice, service_line=line, offered_at=call.at,
            )
            event: CloudEvent = self._derived(CallOffered, data, call.call_id, "offered")
        elif isinstance(call, m.CallAnsweredIn):
            data = CallAnsweredData(call_id=call.call_id, agent_id=call.agent_id, wait_s=call.wait_s, answered_at=call.at)
            event = self._derived(CallAnswered, data, call.call_id, "answered")
        elif isinstance(call, m.CallAbandonedIn):
            data = CallAbandonedData(call_id=call.call_id, wait_s=call.wait_s, abandoned_at=call.at)
            event = self._derived(CallAbandoned, data, call.call_id, "abandoned")
        elif isinstance(call, m.CallTransferredIn):
            data = CallTransferredData(
                call_id=call.call_id, target=call.target, warm=call.warm, announced=call.announced, transferred_at=call.at
            )
            # A call may be transferred more than once: each transfer is its own event.
            event = self._derived(CallTransferred, data, call.call_id, f"transferred:{call.at.isoformat()}")
        elif isinstance(call, m.CallEndedIn):
            data = CallEndedData(
                call_id=call.call_id, talk_s=call.talk_s, hold_s=call.hold_s, wrap_up_s=call.wrap_up_s, ended_at=call.at
            )
            event = self._derived(CallEnded, data, call.call_id, "ended")
        else:
            phone_keys, registry = self.pseudonymise({"phone": call.phone})
            data = CallCallbackRequestedData(call_id=call.call_id, phone_key=phone_keys["phone"], requested_at=call.at)
            event = self._derived(CallCallbackRequested, data, call.call_id, "callback_requested")
        return await self.record(event, topic=CALL_EVENTS, contact_id=contact_id, registry=registry)

    async def counter_visit(self, visit: m.CounterVisitIn) -> m.Recorded:
        """A queue ticket; drawing it makes the visit a contact."""
        contact_id = None
        key = visit_key(location=visit.location, ticket_id=visit.ticket_id, at=visit.at, tz=self._tz)
        if visit.stage == "drawn":
            accepted = await self.accept(
                channel=Channel.COUNTER,
                dedup_key=key,
                fields={
                    "received_at": visit.at, "channel_message_id": visit.ticket_id, "service_line": visit.service_line,
                    "subject": f"Baliebezoek {visit.service_line or visit.location}",
                },
            )
            contact_id = accepted.contact_id
        data = CounterVisitData(contact_id=contact_id, **visit.model_dump())
        return await self.record(self._derived(CounterVisit, data, key, visit.stage), topic=COUNTER_EVENTS, contact_id=contact_id)

    async def counter_appointment(self, appt: m.CounterAppointmentIn) -> m.Recorded:
        data = CounterAppointmentData(
            appointment_id=appt.appointment_id, location=appt.location, status=appt.status,
            scheduled_for=appt.scheduled_for, at=appt.at, product=appt.product,
        )
        event = self._derived(CounterAppointment, data, appt.appointment_id, f"{appt.status}:{appt.at.isoformat()}")
        return await self.record(event, topic=COUNTER_EVENTS)

    async def letter(self, letter: m.LetterIn) -> m.Accepted:
        received = datetime.combine(letter.received_on, time(9, 0), self._tz)
        ack_due, answer_due = letter_deadlines(received, tz=self._tz)
        return await self.accept(
            channel=Channel.LETTER,
            dedup_key=letter.scan_reference,
            fields={
                "received_at": received, "subject": letter.subject, "text": letter.ocr_text,
                "channel_message_id": letter.scan_reference, "citizen": citizen_of(letter),
                "acknowledge_due_at": ack_due, "answer_due_at": answer_due,
            },
        )

    async def social(self, message: m.SocialMessageIn) -> m.Accepted:
        platform = message.platform.lower()
        return await self.accept(
            channel=Channel.SOCIAL,
            dedup_key=f"{platform}:{message.message_id}",
            fields={
                "received_at": message.sent_at or datetime.now(UTC), "text": message.text,
                "channel_message_id": message.message_id, "thread_id": message.thread_id, "platform": platform,
                "citizen": CitizenIdentifiers(social_handle=f"{platform}:{message.handle.lower()}"),
            },
        )

    async def acknowledged(self, contact_id: str, *, at: datetime | None, means: str) -> m.Recorded | None:
        """Publish that the citizen was sent an acknowledgement of receipt; None for an unknown contact.
        One event per contact (its id is derived from the contact), so a repeated report is one."""
        stored = await self._contacts.get(contact_id)
        if stored is None:
            return None
        data = ContactAcknowledgedData(
            contact_id=contact_id, channel=Channel(stored["channel"]), acknowledged_at=at or datetime.now(UTC), means=means
        )
        event = self._derived(ContactAcknowledged, data, contact_id, "acknowledged")
        return await self.record(event, topic=CONTACT_ACKNOWLEDGED, contact_id=contact_id)

    # --- reading ----------------------------------------------------------------------------

    async def get_contact(self, contact_id: str) -> ContactReceivedData | None:
        stored = await self._contacts.get(contact_id)
        return ContactReceived.model_validate(stored["event"]).data if stored else None

    async def timeline(
        self, citizen: dict[str, str], *, page: int, page_size: int, viewer: str, roles: list[str], reason: str
    ) -> m.TimelinePage:
        """A citizen's contacts, newest first; the look is logged first (no log entry, no data)."""
        stored, total = await self._contacts.timeline(citizen, skip=(page - 1) * page_size, limit=page_size)
        contacts = [ContactReceived.model_validate(s["event"]).data.model_dump(mode="json") for s in stored]
        if self._access_log is not None:
            view = m.TimelineView(
                view_id=str(uuid.uuid4()), at=datetime.now(UTC), viewer=viewer, roles=sorted(roles),
                citizen_keys=sorted(self._pseudonyms.of(citizen).values()),
                citizen_shown={kind: mask(kind, value) for kind, value in citizen.items()},
                reason=reason, contacts_shown=len(contacts), page=page,
            )
            await self._access_log.record({"_id": view.view_id, **view.model_dump()})
        return m.TimelinePage(total=total, page=page, page_size=page_size, contacts=contacts)

    async def timeline_views(self, citizen: dict[str, str], *, viewer: str | None, limit: int) -> list[m.TimelineView]:
        """The protocollering of timeline views, newest first, of a citizen and/or a viewer."""
        if self._access_log is None:
            return []
        keys = sorted(self._pseudonyms.of(citizen).values())
        return [m.TimelineView.model_validate(doc) for doc in await self._access_log.find(citizen_keys=keys, viewer=viewer, limit=limit)]

    def _derived(self, model: type[CloudEvent], data: Any, key: str, stage: str) -> CloudEvent:
        return model.create(data=data, source=self._source, subject=key, event_id=derived_id(f"{model.event_type}:{key}", stage))


def mask(kind: str, value: str) -> str:
    """An identifier with all but its last characters hidden: enough to tell two apart, not to use."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    keep = 3 if kind == "bsn" else 2
    return "*" * max(len(value) - keep, 3) + value[-keep:]


def _phone_or_none(raw: str | None) -> str | None:
    """Caller ids may be withheld or odd; keep what normalises, drop the rest."""
    try:
        return normalise_phone(raw) if raw else None
    except ValueError:
        return None
