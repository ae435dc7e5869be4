from datetime import UTC, datetime

from kcc_callback.service import CallbackService
from kcc_shared.contracts import CallbackRequested, CallbackRequestedData


class FakeCallbacks:
    def __init__(self) -> None:
        self.stored = {}

    async def create(self, callback):
        self.stored.setdefault(callback["callback_id"], callback)

    async def get(self, callback_id):
        stored = self.stored.get(callback_id)
        return {k: v for k, v in stored.items()} if stored else None


async def test_a_request_becomes_a_terugbellen_task_whose_phone_stays_in_the_store():
    repository = FakeCallbacks()
    callbacks = CallbackService(repository=repository)
    data = CallbackRequestedData(
        callback_id="cb-1", contact_id="c-1", department_id="sozawe", phone="+31612345678",
        reason="Vraag over bijstand", requested_at=datetime(2026, 11, 23, 15, tzinfo=UTC),
    )
    event = CallbackRequested.create(source="/tests", data=data)
    await callbacks.request(event)
    await callbacks.request(event)
    assert len(repository.stored) == 1
    assert repository.stored["cb-1"]["phone"] == "+31612345678"
    callback = await callbacks.get("cb-1")
    assert (callback.status, callback.gevraagde_handeling, callback.department_id) == ("requested", "Terugbellen", "sozawe")
    assert "phone" not in callback.model_dump()
