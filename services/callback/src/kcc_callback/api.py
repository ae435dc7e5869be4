"""Callback's HTTP API."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from kcc_callback.models import Callback
from kcc_callback.service import CallbackService


def _service(request: Request) -> CallbackService:
    return request.app.state.callbacks


Callbacks = Annotated[CallbackService, Depends(_service)]

router = APIRouter(prefix="/v1")


@router.get("/callbacks/{callback_id}", tags=["callbacks"], summary="One call-back promise")
async def get_callback(callback_id: str, callbacks: Callbacks) -> Callback:
    callback = await callbacks.get(callback_id)
    if callback is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call-back {callback_id}")
    return callback
