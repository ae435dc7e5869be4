"""Metrics' part of an erasure: the citizen's facts keep counting, but no longer name them.

Facts carry the citizen only as `citizen_key` (a keyed pseudonym, for first-contact
resolution: did the same citizen come back on the same product?). On an erasure request each
of the citizen's keys found in the facts is replaced by its own random surrogate: the facts
still link to each other exactly as before, so every figure stays identical, but nothing links
them to the citizen any more (the surrogate is random, not derived from the key or a secret).
Only `received` facts carry the key, indexed: one update by filter per key.
"""

import uuid

from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.contracts import CitizenErasureRequestedData
from kcc_shared.erasure import take_part_in_erasure
from kcc_shared.runtime import Infrastructure

from kcc_metrics.repository import FactRepository

CITIZEN_FIELD = "citizen_key"


class FactErasure:
    def __init__(self, facts: AsyncCollection) -> None:
        """`facts`: the facts' base collection (`db["facts"]`)."""
        self._repository = FactRepository(facts)

    async def erase(self, request: CitizenErasureRequestedData) -> dict[str, int]:
        """Re-key the citizen's facts to one random surrogate per key; the count of facts re-keyed."""
        rekeyed = 0
        received = self._repository.of("received")
        for key in request.pseudonyms:
            surrogate = f"erased:{uuid.uuid4().hex}"  # one per key, random: linked to nothing outside
            result = await received.update_many({CITIZEN_FIELD: key}, {"$set": {CITIZEN_FIELD: surrogate}})
            rekeyed += result.modified_count
        return {"facts": rekeyed}


def register(infra: Infrastructure, facts: AsyncCollection) -> FactErasure:
    erasure = FactErasure(facts)
    take_part_in_erasure(infra, erase=erasure.erase)
    return erasure
