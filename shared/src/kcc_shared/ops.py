"""The ops API every service serves: its dead letters, and replaying them after a fix.

Mounted by `create_service_app`. A service lists any group's dead letters (its own by
default) but replays only its own groups': the fix a replay relies on is in this service.
Its groups are its `group_id` and any `<group_id>.<suffix>` (a service with a group per topic).
"""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from kcc_shared.deadletters import AlreadyReplayed, DeadLetterNotFound, DeadLetters
from kcc_shared.settings import ServiceSettings


def dead_letter_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/ops/dead-letters", tags=["ops"])
    own_group = settings.group_id

    def own(group: str | None) -> bool:
        return group is not None and (group == own_group or group.startswith(f"{own_group}."))

    replayer = f"{settings.service_name} ops API"

    def store() -> DeadLetters:
        kafka = settings.kafka
        return DeadLetters(
            bootstrap=kafka.bootstrap, client_id=f"{kafka.client_id}-{settings.service_name}-dlq",
            request_timeout_ms=kafka.request_timeout_ms,
        )

    @router.get("", summary="Dead letters with their reason (this service's consumer groups unless `group` is given)")
    async def list_dead_letters(
        group: Annotated[str | None, Query(description="Consumer group; default: this service's groups")] = None,
        topic: Annotated[str | None, Query(description="Original topic")] = None,
        event_id: Annotated[str | None, Query(description="Event id")] = None,
        pending: Annotated[bool, Query(description="Only those not replayed yet")] = False,
    ) -> dict[str, Any]:
        letters = await store().list(group=group, topic=topic, event_id=event_id, pending_only=pending)
        if group is None:
            letters = [letter for letter in letters if own(letter.group)]
        return {"group": group or own_group, "count": len(letters), "items": [letter.summary() for letter in letters]}

    @router.get("/{dead_letter_id}", summary="One dead letter with its headers (the payload only on request)")
    async def get_dead_letter(
        dead_letter_id: str,
        payload: Annotated[bool, Query(description="Include the message; it may hold personal data")] = False,
    ) -> dict[str, Any]:
        try:
            return (await store().get(dead_letter_id)).details(payload=payload)
        except DeadLetterNotFound as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.post(
        "/{dead_letter_id}/replay",
        summary="Publish a dead letter of this service's group to its original topic again (409 if replayed before, unless force)",
    )
    async def replay_dead_letter(
        dead_letter_id: str, force: Annotated[bool, Query(description="Replay even if replayed before")] = False
    ) -> dict[str, Any]:
        dead_letters = store()
        try:
            letter = await dead_letters.get(dead_letter_id)
            if not own(letter.group):
                raise HTTPException(404, f"dead letter {dead_letter_id} belongs to group {letter.group}, not {own_group}")
            return (await dead_letters.replay(dead_letter_id, replayed_by=replayer, force=force)).as_json()
        except DeadLetterNotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except AlreadyReplayed as exc:
            raise HTTPException(409, str(exc)) from exc

    @router.post("/replay", summary="Replay every dead letter of this service's group not replayed yet (filter by topic, event id)")
    async def replay_all(
        topic: Annotated[str | None, Query(description="Original topic")] = None,
        event_id: Annotated[str | None, Query(description="Event id")] = None,
    ) -> dict[str, Any]:
        dead_letters = store()
        pending = await dead_letters.list(topic=topic, event_id=event_id, pending_only=True)
        receipts = await dead_letters.replay_many([letter for letter in pending if own(letter.group)], replayed_by=replayer)
        return {"count": len(receipts), "replayed": [r.as_json() for r in receipts]}

    return router
