"""Turns channel input into one `ContactReceived` per contact, stored before it is published."""

import logging
import uuid
from datetime import UTC, datetime

from kcc_shared.contracts import CONTACT_RECEIVED, Channel, CitizenIdentifiers, ContactReceived, ContactReceivedData
from kcc_shared.kafka import EventPublisher

from kcc_intake.models import Accepted, WebFormSubmission
from kcc_intake.repository import ContactRepository

log = logging.getLogger(__name__)


class IntakeService:
    def __init__(self, *, repository: ContactRepository, publisher: EventPublisher, source: str) -> None:
        self._repository, self._publisher, self._source = repository, publisher, source

    async def accept_web_form(self, submission: WebFormSubmission) -> Accepted:
        """Store the submission as a contact and publish it; a resubmission is the same contact."""
        now = datetime.now(UTC)
        contact_id = str(uuid.uuid4())
        data = ContactReceivedData(
            contact_id=contact_id,
            channel=Channel.WEB,
            received_at=submission.submitted_at or now,
            subject=submission.subject,
            text=submission.message,
            channel_message_id=submission.submission_id,
            citizen=CitizenIdentifiers(email=submission.email, phone=submission.phone),
        )
        event = ContactReceived.create(data=data, source=self._source, subject=contact_id, time=now)
        dedup_key = f"web:{submission.submission_id}" if submission.submission_id else f"id:{contact_id}"
        earlier = await self._repository.insert(
            {"_id": contact_id, "dedup_key": dedup_key, "event": event.model_dump(mode="json")}
        )
        if earlier is not None:
            event = ContactReceived.model_validate(earlier["event"])
            if not earlier.get("published"):
                # The first attempt stored it but could not publish: finish that job now,
                # with the same event id so consumers see one event.
                await self._publish(event)
            return Accepted(contact_id=earlier["_id"], event_id=event.id, duplicate=True)
        await self._publish(event)
        log.info("contact accepted", extra={"contact_id": contact_id, "channel": "web", "event_id": event.id})
        return Accepted(contact_id=contact_id, event_id=event.id, duplicate=False)

    async def _publish(self, event: ContactReceived) -> None:
        await self._publisher.publish(event, topic=CONTACT_RECEIVED)
        await self._repository.mark_published(event.data.contact_id)

    async def get_contact(self, contact_id: str) -> ContactReceivedData | None:
        stored = await self._repository.get(contact_id)
        return ContactReceived.model_validate(stored["event"]).data if stored else None
