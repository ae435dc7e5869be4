"""Routing's Kafka handlers: thin, one service call and one publish each."""

from kcc_shared.contracts import CONTACT_RECEIVED, CONTACT_ROUTED, ContactReceived
from kcc_shared.runtime import Infrastructure

from kcc_routing.service import RoutingService


def register(infra: Infrastructure, routing: RoutingService) -> None:
    infra.produces(CONTACT_ROUTED)

    async def on_contact_received(event: ContactReceived) -> None:
        routed = await routing.route(event)
        await infra.publisher.publish(routed, topic=CONTACT_ROUTED)

    infra.subscribe(CONTACT_RECEIVED, on_contact_received)
