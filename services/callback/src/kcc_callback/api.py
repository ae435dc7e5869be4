"""Callback's HTTP API for back-office staff and agents.

Bad input is a 4xx with the field and the reason: 404 for an unknown call-back, 409 for an
action its status does not allow (or a concurrent change), 422 for invalid bodies.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kcc_callback.booking import NoSlotLeft
from kcc_callback.models import (
    AttemptBody, CancelBody, ClaimBody, CompleteBody, Conflict, FreeSlot, InterneTaak, InvalidTransition, RescheduleBody,
)
from kcc_callback.service import CallbackService, NotFound


def _service(request: Request) -> CallbackService:
    return request.app.state.callbacks


Callbacks = Annotated[CallbackService, Depends(_service)]
CallbackId = Annotated[str, Path(min_length=1, max_length=100)]
DepartmentId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,40}$")]

_ERRORS = {
    404: {"description": "No call-back with this id"},
    409: {"description": "The call-back's status does not allow this action, or it changed meanwhile"},
}

router = APIRouter(prefix="/v1", tags=["callbacks"], responses=_ERRORS)


@router.get("/callbacks/{callback_id}", summary="One call-back promise (interne taak)")
async def get_callback(callback_id: CallbackId, callbacks: Callbacks) -> InterneTaak:
    callback = await callbacks.get(callback_id)
    if callback is None:
        raise NotFound(callback_id)
    return InterneTaak.of(callback)


class PhoneNumber(BaseModel):
    callback_id: str
    phone: str | None = Field(description="E.164; None when intake's registry does not know it (erased) or cannot be reached")


@router.get("/callbacks/{callback_id}/phone", summary="The number to call (personal data: only for whoever calls back)")
async def get_phone(callback_id: CallbackId, callbacks: Callbacks) -> PhoneNumber:
    return PhoneNumber(callback_id=callback_id, phone=await callbacks.phone(callback_id))


@router.get("/departments/{department_id}/callbacks/due-today", summary="A department's open call-backs due today")
async def due_today(department_id: DepartmentId, callbacks: Callbacks) -> list[InterneTaak]:
    return [InterneTaak.of(c) for c in await callbacks.due_today(department_id=department_id)]


@router.get(
    "/departments/{department_id}/callbacks/free-slots",
    summary="The department's next call-back slots with a place left, earliest first (what a booking now could get)",
)
async def free_slots(
    department_id: DepartmentId, callbacks: Callbacks, limit: Annotated[int, Query(ge=1, le=100)] = 8,
) -> list[FreeSlot]:
    return await callbacks.free_slots(department_id=department_id, limit=limit)


@router.post("/callbacks/{callback_id}/claim", summary="Assign to an employee or team")
async def claim(callback_id: CallbackId, body: ClaimBody, callbacks: Callbacks) -> InterneTaak:
    return InterneTaak.of(await callbacks.claim(callback_id, body))


@router.post("/callbacks/{callback_id}/attempts", summary="Record an attempt and its outcome")
async def attempt(callback_id: CallbackId, body: AttemptBody, callbacks: Callbacks) -> InterneTaak:
    return InterneTaak.of(await callbacks.attempt(callback_id, body))


@router.post("/callbacks/{callback_id}/complete", summary="Mark as done (verwerkt)")
async def complete(callback_id: CallbackId, body: CompleteBody, callbacks: Callbacks) -> InterneTaak:
    return InterneTaak.of(await callbacks.complete(callback_id, body))


@router.post("/callbacks/{callback_id}/reschedule", summary="Book a new slot on the citizen's request")
async def reschedule(callback_id: CallbackId, body: RescheduleBody, callbacks: Callbacks) -> InterneTaak:
    return InterneTaak.of(await callbacks.reschedule(callback_id, body))


@router.post("/callbacks/{callback_id}/cancel", summary="Cancel: no call-back needed any more")
async def cancel(callback_id: CallbackId, body: CancelBody, callbacks: Callbacks) -> InterneTaak:
    return InterneTaak.of(await callbacks.cancel(callback_id, body))


def add_error_handlers(app: FastAPI) -> None:
    """Domain errors become 4xx answers in FastAPI's `detail` shape, with field and reason."""

    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(status.HTTP_404_NOT_FOUND, "callback_id", f"no call-back {exc}")

    async def invalid(_: Request, exc: InvalidTransition) -> JSONResponse:
        return _error(status.HTTP_409_CONFLICT, "status", str(exc))

    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(status.HTTP_409_CONFLICT, "revision", str(exc))

    async def no_slot(_: Request, exc: NoSlotLeft) -> JSONResponse:
        return _error(status.HTTP_409_CONFLICT, "slot", str(exc))

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidTransition, invalid)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(NoSlotLeft, no_slot)


def _error(code: int, field: str, reason: str) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": ["path" if field == "callback_id" else "body", field], "msg": reason}]}, status_code=code)
