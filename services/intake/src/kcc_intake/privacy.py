"""Intake's part of the privacy design: the citizen registry, erasure requests and retention.

- **Registry.** Events name citizens by keyed pseudonyms only. Intake keeps, per pseudonym, the
  clear value (`registry` collection, keyed by the pseudonym: inserts and reads by `_id` only),
  and resolves it for services that must act on it (the callback service dialling a number).
- **Erasure.** An erasure request names the citizen by BSN, phone or e-mail. Intake finds the
  citizen's contacts (and, through them, the citizen's other identifiers), records the request
  and publishes `CitizenErasureRequested` with pseudonyms and contact ids only; every service,
  intake included, erases its part on that event and reports it (`CitizenErasureCompleted`),
  which intake collects so `GET /v1/erasures/{id}` shows the result per service.
- **Retention.** A daily job strips content and identifiers from contacts received before the
  retention period (`KCC_INTAKE_RETENTION_MONTHS`, 12, one `update_many`) and forgets registry
  values no recent contact uses.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kcc_shared.contracts import (
    ERASURE_REQUESTED,
    CitizenErasureCompleted,
    CitizenErasureRequested,
    CitizenErasureRequestedData,
)
from kcc_shared.mongo import insert_once
from kcc_shared.periodic import months_before
from kcc_shared.pseudonyms import IDENTIFIER_KINDS, Pseudonymiser

from kcc_intake.repository import CONTACTS

log = logging.getLogger(__name__)

REGISTRY, ERASURES, ERASURE_RESULTS = "registry", "erasures", "erasure_results"
# What retention strips from an old contact: its content and who sent it.
PURGED_FIELDS = (
    "citizen", "pseudonyms", "content", "payload", "event.data.subject", "event.data.text", "event.data.attachments",
    "event.data.citizen", "event.data.citizen_key", "event.data.thread_id",
)
MAX_LINK_ROUNDS = 3  # contact → its other identifiers → their contacts …


class ResolvedPseudonym(BaseModel):
    pseudonym: str
    kind: str
    value: str


class ErasureAccepted(BaseModel):
    erasure_id: str
    contacts: int = Field(description="Contacts of the citizen found at intake")
    identifiers: int = Field(description="Identifiers (as pseudonyms) the erasure covers")
    published: bool


class ServiceErasure(BaseModel):
    removed: dict[str, int]
    completed_at: datetime


class ErasureStatus(BaseModel):
    erasure_id: str
    requested_by: str = Field(description="Subject of the token that asked")
    reference: str | None = Field(default=None, description="The asker's reference for the request")
    requested_at: datetime
    status: str = Field(description="`completed` once every service reported, else `in_progress`")
    services: dict[str, ServiceErasure]
    waiting_for: list[str]


class PrivacyRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._registry, self._contacts = db[REGISTRY], db[CONTACTS]
        self._erasures, self._results = db[ERASURES], db[ERASURE_RESULTS]

    async def ensure_indexes(self) -> None:
        await self._registry.create_index([("registered_at", ASCENDING)], name="registered_at")
        await self._results.create_index([("erasure_id", ASCENDING)], name="erasure_id")

    async def register(self, entries: list[dict[str, Any]]) -> None:
        """Remember pseudonym → value; an entry that exists stays (one unordered insert)."""
        if not entries:
            return
        try:
            await self._registry.insert_many(entries, ordered=False)
        except BulkWriteError as exc:
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise

    async def resolve(self, pseudonym: str) -> dict[str, Any] | None:
        return await self._registry.find_one({"_id": pseudonym})

    async def contacts_of(self, identifiers: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Contacts naming any of the (kind, value) identifiers, with their identifiers (one indexed read each)."""
        found: dict[str, dict[str, Any]] = {}
        for kind, value in identifiers:
            async for doc in self._contacts.find({f"citizen.{kind}": value}, {"_id": 1, "citizen": 1}):
                found[doc["_id"]] = doc
        return list(found.values())

    async def delete_by_ids(self, collection: str, ids: list[str]) -> int:
        if not ids:
            return 0
        return (await self._db[collection].delete_many({"_id": {"$in": sorted(set(ids))}})).deleted_count

    async def save_erasure(self, erasure: dict[str, Any]) -> None:
        await insert_once(self._erasures, erasure)

    async def erasure(self, erasure_id: str) -> dict[str, Any] | None:
        return await self._erasures.find_one({"_id": erasure_id})

    async def save_result(self, result: dict[str, Any]) -> None:
        await insert_once(self._results, result)

    async def results(self, erasure_id: str) -> list[dict[str, Any]]:
        return await self._results.find({"erasure_id": erasure_id}).to_list(None)

    async def purge_contacts(self, *, before: datetime, now: datetime) -> int:
        result = await self._contacts.update_many(
            {"purged_at": None, "received_at": {"$lt": before}},  # null: not purged yet (index purged_at, received_at)
            {"$unset": {field: "" for field in PURGED_FIELDS}, "$set": {"purged_at": now}},
        )
        return result.modified_count

    async def purge_registry(self, *, before: datetime) -> int:
        """Forget values registered before `before` that no contact since then names.

        One indexed look-up per old value (the contacts' `citizen_<kind>` index), so the daily
        run reads what it may forget, never the year of contacts in between."""
        forget = []
        async for entry in self._registry.find({"registered_at": {"$lt": before}}, {"kind": 1, "value": 1}):
            recent = await self._contacts.find_one(
                {f"citizen.{entry['kind']}": entry["value"], "received_at": {"$gte": before}}, {"_id": 1}
            )
            if recent is None:
                forget.append(entry["_id"])
        return await self.delete_by_ids(REGISTRY, forget)


class PrivacyService:
    def __init__(
        self, *, repository: PrivacyRepository, pseudonyms: Pseudonymiser, retention_months: int,
        erasure_services: list[str], record: Callable[..., Any], source: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository, self._pseudonyms, self._retention_months = repository, pseudonyms, retention_months
        self._erasure_services, self._record, self._source, self._clock = erasure_services, record, source, clock
        self._erasers: dict[str, Callable[[list[str]], Awaitable[int]]] = {}
        self._purgers: dict[str, Callable[[datetime], Awaitable[int]]] = {}

    # --- registry ---------------------------------------------------------------------------

    def registry_entries(self, identifiers: dict[str, str | None]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """Pseudonyms of the identifiers given (kind → pseudonym), and the registry entries that
        remember their values: written with the contact, in the same group commit."""
        pseudonyms = self._pseudonyms.of(identifiers)
        now = self._clock()
        entries = [
            {"_id": pseudonym, "kind": kind, "value": identifiers[kind], "registered_at": now}
            for kind, pseudonym in pseudonyms.items()
        ]
        return pseudonyms, entries

    async def register(self, identifiers: dict[str, str | None]) -> dict[str, str]:
        """Pseudonymise the identifiers given and remember their values now; returns kind → pseudonym."""
        pseudonyms, entries = self.registry_entries(identifiers)
        await self._repository.register(entries)
        return pseudonyms

    async def resolve(self, pseudonym: str) -> ResolvedPseudonym | None:
        entry = await self._repository.resolve(pseudonym)
        return ResolvedPseudonym(pseudonym=pseudonym, kind=entry["kind"], value=entry["value"]) if entry else None

    # --- erasure ----------------------------------------------------------------------------

    async def request_erasure(
        self, *, identifiers: dict[str, str], requested_by: str, reference: str | None = None
    ) -> ErasureAccepted:
        """Find everything of the citizen at intake and publish the erasure request (pseudonyms only)."""
        known = dict.fromkeys((kind, value) for kind, value in identifiers.items())
        contacts: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_LINK_ROUNDS):
            found = await self._repository.contacts_of(list(known))
            new = [doc for doc in found if doc["_id"] not in contacts]
            if not new:
                break
            for doc in new:
                contacts[doc["_id"]] = doc
                for kind in IDENTIFIER_KINDS:
                    if value := (doc.get("citizen") or {}).get(kind):
                        known.setdefault((kind, value))
        pseudonyms = sorted({self._pseudonyms.pseudonym(kind, value) for kind, value in known})
        erasure_id = str(uuid.uuid4())
        now = self._clock()
        data = CitizenErasureRequestedData(
            erasure_id=erasure_id, pseudonyms=pseudonyms, contact_ids=sorted(contacts),
            requested_by=requested_by, reference=reference, requested_at=now,
        )
        # The audit keeps who, when and how much; never the identifiers themselves.
        await self._repository.save_erasure({
            "_id": erasure_id, "requested_by": requested_by, "reference": reference, "requested_at": now,
            "contacts": len(contacts), "identifiers": len(pseudonyms), "services": list(self._erasure_services),
        })
        event = CitizenErasureRequested.create(data=data, source=self._source, subject=erasure_id, event_id=erasure_id)
        recorded = await self._record(event, topic=ERASURE_REQUESTED)
        log.info("erasure requested", extra={"erasure_id": erasure_id, "contacts": len(contacts)})
        return ErasureAccepted(
            erasure_id=erasure_id, contacts=len(contacts), identifiers=len(pseudonyms), published=recorded.published
        )

    def erase_also(self, **erasers: Callable[[list[str]], Awaitable[int]]) -> None:
        """More of intake's stores that hold a contact's data, erased with it (by contact id)."""
        self._erasers.update(erasers)

    def purge_also(self, **purgers: Callable[[datetime], Awaitable[int]]) -> None:
        """More of intake's stores whose content goes after the retention period (older than the cut-off)."""
        self._purgers.update(purgers)

    async def erase(self, request: CitizenErasureRequestedData) -> dict[str, int]:
        """Intake's own part: the citizen's contacts (content, identifiers, outbox copy), their
        attachments, answers and outgoing messages (acknowledgements included), and the registry's values."""
        removed = {CONTACTS: await self._repository.delete_by_ids(CONTACTS, request.contact_ids)}
        for name, erase in self._erasers.items():
            removed[name] = await erase(request.contact_ids)
        removed[REGISTRY] = await self._repository.delete_by_ids(REGISTRY, request.pseudonyms)
        return removed

    async def erasure_completed(self, event: CitizenErasureCompleted) -> None:
        d = event.data
        await self._repository.save_result({
            "_id": f"{d.erasure_id}|{d.service}", "erasure_id": d.erasure_id, "service": d.service,
            "removed": d.removed, "completed_at": d.completed_at,
        })

    async def erasure_status(self, erasure_id: str) -> ErasureStatus | None:
        erasure = await self._repository.erasure(erasure_id)
        if erasure is None:
            return None
        services = {
            r["service"]: ServiceErasure(removed=r["removed"], completed_at=r["completed_at"])
            for r in await self._repository.results(erasure_id)
        }
        waiting = [name for name in erasure["services"] if name not in services]
        return ErasureStatus(
            erasure_id=erasure_id, requested_by=erasure["requested_by"], reference=erasure.get("reference"),
            requested_at=erasure["requested_at"],
            status="in_progress" if waiting else "completed", services=services, waiting_for=waiting,
        )

    # --- retention --------------------------------------------------------------------------

    async def purge_expired(self) -> dict[str, int]:
        """Strip content and identifiers from contacts older than the retention period."""
        now = self._clock()
        before = months_before(now, self._retention_months)
        purged = {CONTACTS: await self._repository.purge_contacts(before=before, now=now)}
        for name, purge in self._purgers.items():
            purged[name] = await purge(before)
        purged[REGISTRY] = await self._repository.purge_registry(before=before)
        return purged

