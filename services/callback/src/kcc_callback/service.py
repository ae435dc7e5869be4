"""Call-back promises. Scheduling into slots and the life cycle come in the callback issue."""

from kcc_shared.contracts import CallbackRequested

from kcc_callback.models import Callback
from kcc_callback.repository import CallbackRepository


class CallbackService:
    def __init__(self, *, repository: CallbackRepository) -> None:
        self._repository = repository

    async def request(self, event: CallbackRequested) -> None:
        """Record a call-back request as a promise to keep."""
        data = event.data
        callback = Callback(status="requested", **data.model_dump(exclude={"phone"}))
        # The phone number stays in this service's store only, not in its API listing.
        await self._repository.create({**callback.model_dump(mode="json"), "phone": data.phone})

    async def get(self, callback_id: str) -> Callback | None:
        stored = await self._repository.get(callback_id)
        return Callback.model_validate(stored) if stored else None
