"""Routing's HTTP API."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from kcc_shared.contracts import ContactRoutedData

from kcc_routing.service import RoutingService


def _service(request: Request) -> RoutingService:
    return request.app.state.routing


Routing = Annotated[RoutingService, Depends(_service)]

router = APIRouter(prefix="/v1")


@router.get("/decisions/{contact_id}", tags=["routing"], summary="The routing decision for a contact")
async def get_decision(contact_id: str, routing: Routing) -> ContactRoutedData:
    decision = await routing.decision_for(contact_id)
    if decision is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision for contact {contact_id}")
    return decision
