from datetime import UTC, datetime

from kcc_routing.service import RoutingService, decide
from kcc_shared.contracts import Channel, ContactReceived, ContactReceivedData


class FakeDecisions:
    def __init__(self) -> None:
        self.saved = {}

    async def save(self, routed):
        return self.saved.setdefault(routed.data.contact_id, routed)

    async def get(self, contact_id):
        routed = self.saved.get(contact_id)
        return routed.data if routed else None


def received() -> ContactReceived:
    return ContactReceived.create(
        source="/tests",
        subject="c-9",
        data=ContactReceivedData(contact_id="c-9", channel=Channel.LETTER, received_at=datetime(2026, 11, 23, 9, tzinfo=UTC)),
    )


def test_without_departments_the_kcc_answers_first():
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    decision = decide(received().data, now=now)
    assert (decision.contact_id, decision.channel, decision.decision) == ("c-9", "letter", "answer_in_kcc")
    assert decision.routed_at == now and decision.reason


async def test_a_redelivered_contact_yields_the_same_decision_event():
    repository = FakeDecisions()
    routing = RoutingService(repository=repository, source="/kcc/routing")
    event = received()
    first, second = await routing.route(event), await routing.route(event)
    assert first == second
    assert first.id != event.id and first.subject == "c-9"
    assert (await routing.decision_for("c-9")).decision == "answer_in_kcc"
