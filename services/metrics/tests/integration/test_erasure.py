"""Erasure in metrics on the real store: the citizen's facts are re-keyed to random surrogates,
so they no longer name the citizen while every fact still links to the same others."""

from collections import defaultdict
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient

from kcc_metrics.erasure import CITIZEN_FIELD, FactErasure
from kcc_metrics.repository import FactRepository
from kcc_shared.contracts import CitizenErasureRequestedData
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


def key(kind: str, n: int) -> str:
    return f"{kind}:{n:032x}"


async def test_a_citizens_facts_are_rekeyed_one_surrogate_per_key_and_others_untouched(real_stack):
    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    try:
        facts = mongo[unique("test_metrics_erasure").replace("-", "_")]["facts"]
        repository = FactRepository(facts)
        erased_bsn, erased_email, other = key("bsn", 1), key("email", 2), key("bsn", 3)
        # c1 and c2 (the same citizen) in different months: one surrogate.
        rows = [(erased_bsn, "c1", "2026-11-30"), (erased_bsn, "c2", "2026-12-01"), (erased_email, "c3", "2026-12-02"),
                (other, "c4", "2026-11-02"), (None, "c5", "2026-12-03")]
        for citizen_key, contact, day in rows:
            await repository.record(
                event_id=unique("f"), fact={"kind": "received", "day": day, "contact_id": contact, CITIZEN_FIELD: citizen_key}
            )
        await repository.ensure_indexes()
        request = CitizenErasureRequestedData(
            erasure_id=unique("er"), pseudonyms=[erased_bsn, erased_email, key("phone", 4)],
            contact_ids=["c1", "c2", "c3"], requested_by="test", requested_at=datetime.now(UTC),
        )

        assert await FactErasure(facts).erase(request) == {"facts": 3}

        by_contact = {f["contact_id"]: f[CITIZEN_FIELD] for f in await facts["received"].find({"day": {"$gte": "2026"}}).to_list()}
        assert by_contact["c4"] == other and by_contact["c5"] is None
        assert not {erased_bsn, erased_email} & set(by_contact.values())
        # The same key became the same surrogate, different keys different ones: groupings (and so
        # first-contact resolution) are unchanged.
        assert by_contact["c1"] == by_contact["c2"] != by_contact["c3"]
        assert all(by_contact[c].startswith("erased:") for c in ("c1", "c2", "c3"))
        groups = defaultdict(set)
        for contact, citizen_key in by_contact.items():
            groups[citizen_key].add(contact)
        assert sorted(map(sorted, groups.values())) == [["c1", "c2"], ["c3"], ["c4"], ["c5"]]
        assert await FactErasure(facts).erase(request) == {"facts": 0}  # a second delivery finds nothing more
    finally:
        await mongo.close()
