"""Decides per contact who answers it. For now every contact is answered in the KCC first;
classification, departments and call-backs replace `decide` in the routing issue."""

import logging
from datetime import UTC, datetime

from kcc_shared.contracts import ContactReceived, ContactReceivedData, ContactRouted, ContactRoutedData, derived_id

from kcc_routing.repository import DecisionRepository

log = logging.getLogger(__name__)


def decide(contact: ContactReceivedData, *, now: datetime) -> ContactRoutedData:
    """The routing decision for one contact."""
    return ContactRoutedData(
        contact_id=contact.contact_id,
        channel=contact.channel,
        decision="answer_in_kcc",
        reason="The KCC answers first: no department has joined with this subject yet",
        routed_at=now,
    )


class RoutingService:
    def __init__(self, *, repository: DecisionRepository, source: str) -> None:
        self._repository, self._source = repository, source

    async def route(self, received: ContactReceived) -> ContactRouted:
        """Decide, store the decision, and return the event announcing it."""
        decision = decide(received.data, now=datetime.now(UTC))
        routed = ContactRouted.create(
            data=decision,
            source=self._source,
            subject=received.data.contact_id,
            # The same input event always yields the same decision event id.
            event_id=derived_id(received.id, "routed"),
        )
        stored = await self._repository.save(routed)
        log.info(
            "contact routed",
            extra={"contact_id": stored.data.contact_id, "decision": stored.data.decision, "event_id": stored.id},
        )
        return stored

    async def decision_for(self, contact_id: str) -> ContactRoutedData | None:
        return await self._repository.get(contact_id)
