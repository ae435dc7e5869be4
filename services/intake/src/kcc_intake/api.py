"""Intake's HTTP API: channel adapters post here; agents read contacts back."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from kcc_shared.contracts import ContactReceivedData

from kcc_intake.models import Accepted, WebFormSubmission
from kcc_intake.service import IntakeService


def _service(request: Request) -> IntakeService:
    return request.app.state.intake


Intake = Annotated[IntakeService, Depends(_service)]

router = APIRouter(prefix="/v1")


@router.post(
    "/channels/web/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["channels"],
    summary="A website contact form or e-form submission",
    responses={503: {"description": "The contact could not be handed to Kafka; retry with the same submission_id"}},
)
async def post_web_submission(submission: WebFormSubmission, intake: Intake, response: Response) -> Accepted:
    accepted = await intake.accept_web_form(submission)
    response.headers["Location"] = f"/v1/contacts/{accepted.contact_id}"
    return accepted


@router.get("/contacts/{contact_id}", tags=["contacts"], summary="One contact (contactmoment)")
async def get_contact(contact_id: str, intake: Intake) -> ContactReceivedData:
    contact = await intake.get_contact(contact_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    return contact
