"""Intake's privacy routes: the citizen registry (for services with a token) and erasure requests."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import Field, model_validator

from kcc_intake import models as m
from kcc_intake.privacy import ErasureAccepted, ErasureStatus, PrivacyService, ResolvedPseudonym


async def _privacy(request: Request) -> PrivacyService:
    return request.app.state.privacy


Privacy = Annotated[PrivacyService, Depends(_privacy)]

router = APIRouter(prefix="/v1")


class ErasureRequest(m.CitizenFields):
    """Whose data to erase (at least one identifier). Who asks is the token's subject, never the body."""

    reference: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="Your reference for the citizen's request, e.g. the AVG case number (kept in the audit)",
    )

    @model_validator(mode="after")
    def _some_identifier(self) -> "ErasureRequest":
        if not (self.bsn or self.phone or self.email):
            raise ValueError("give at least one of bsn, phone, email")
        return self


@router.get(
    "/registry/pseudonyms/{pseudonym}",
    tags=["privacy"],
    summary="Resolve a citizen pseudonym to its clear value (for services that must act on it)",
    responses={404: {"description": "Unknown pseudonym, or erased"}},
)
async def resolve_pseudonym(pseudonym: str, privacy: Privacy) -> ResolvedPseudonym:
    resolved = await privacy.resolve(pseudonym)
    if resolved is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"pseudonym: no value for {pseudonym}")
    return resolved


@router.post(
    "/erasures",
    tags=["privacy"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Erase a citizen's data from every service (by BSN, phone or e-mail)",
    responses={422: {"description": "No identifier, or an invalid one: `detail` names the field"}},
)
async def post_erasure(body: ErasureRequest, privacy: Privacy, request: Request) -> ErasureAccepted:
    identifiers = body.model_dump(include={"bsn", "phone", "email"}, exclude_none=True)
    # The access guard authenticated the caller; the audit names that subject, not a claim in the body.
    requested_by = request.state.principal.subject
    return await privacy.request_erasure(identifiers=identifiers, requested_by=requested_by, reference=body.reference)


@router.get(
    "/erasures/{erasure_id}",
    tags=["privacy"],
    summary="An erasure's result per service: what each removed, and who has not reported yet",
    responses={404: {"description": "Unknown erasure id"}},
)
async def get_erasure(erasure_id: str, privacy: Privacy) -> ErasureStatus:
    found = await privacy.erasure_status(erasure_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"erasure_id: no erasure {erasure_id}")
    return found
