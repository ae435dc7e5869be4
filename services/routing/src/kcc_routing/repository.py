"""Routing decisions, one per contact."""

from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.contracts import ContactRouted, ContactRoutedData


class DecisionRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._decisions = collection

    async def save(self, routed: ContactRouted) -> ContactRouted:
        """Keep the first decision for a contact; a redelivery returns that one unchanged."""
        stored = await self._decisions.find_one_and_update(
            {"_id": routed.data.contact_id},
            {"$setOnInsert": {"event": routed.model_dump(mode="json")}},
            upsert=True,
            return_document=True,
        )
        return ContactRouted.model_validate(stored["event"])

    async def get(self, contact_id: str) -> ContactRoutedData | None:
        stored = await self._decisions.find_one({"_id": contact_id})
        return ContactRouted.model_validate(stored["event"]).data if stored else None
