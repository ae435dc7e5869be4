"""Taking part in a citizen's erasure: erase this service's part, keep an audit entry, report it.

Each service that stores citizen data calls `take_part_in_erasure(infra, erase=...)` with its own
`erase` function (in its service module: which collections, which documents). This glue consumes
`kcc.citizen.erasure-requested.v1`, runs `erase` once per erasure (the audit entry is written
after it, so a crash in between erases again, which finds nothing more), records who asked, when
and what was removed per collection in the service's `erasure_audit` collection, and publishes
`kcc.citizen.erasure-completed.v1` with an id derived from the request (a redelivery repeats the
same event, which consumers de-duplicate).
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from kcc_shared.contracts import (
    ERASURE_COMPLETED,
    ERASURE_REQUESTED,
    CitizenErasureCompleted,
    CitizenErasureCompletedData,
    CitizenErasureRequested,
    CitizenErasureRequestedData,
    derived_id,
)
from kcc_shared.mongo import insert_once
from kcc_shared.runtime import Infrastructure

AUDIT = "erasure_audit"
Erase = Callable[[CitizenErasureRequestedData], Awaitable[dict[str, int]]]


def take_part_in_erasure(infra: Infrastructure, *, erase: Erase) -> None:
    """Subscribe this service to erasure requests; `erase` returns the count removed per collection."""
    infra.produces(ERASURE_COMPLETED)
    audit = infra.db[AUDIT]
    service = infra.settings.service_name

    async def on_erasure_requested(event: CitizenErasureRequested) -> None:
        request = event.data
        entry: dict[str, Any] | None = await audit.find_one({"_id": request.erasure_id})
        if entry is None:
            removed = await erase(request)
            entry = {
                "_id": request.erasure_id, "service": service, "requested_by": request.requested_by,
                "reference": request.reference, "requested_at": request.requested_at, "completed_at": datetime.now(UTC), "removed": removed,
            }
            if not await insert_once(audit, entry):  # a concurrent delivery recorded it first
                entry = await audit.find_one({"_id": request.erasure_id}) or entry
        completed = CitizenErasureCompleted.create(
            data=CitizenErasureCompletedData(
                erasure_id=request.erasure_id, service=service, removed=entry["removed"], completed_at=entry["completed_at"]
            ),
            source=infra.source,
            subject=request.erasure_id,
            event_id=derived_id(event.id, f"erasure-completed/{service}"),
        )
        await infra.publisher.publish(completed, topic=ERASURE_COMPLETED)

    infra.subscribe(ERASURE_REQUESTED, on_erasure_requested)
