"""Intake's HTTP API: channel adapters post here; agents read contacts and timelines back."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request, status

from kcc_shared.contracts import ContactReceivedData

from kcc_intake import models as m
from kcc_intake.attachments import AttachmentTooLarge, UndecodableAttachment
from kcc_intake.mail import EmailIntake, ParsedMail
from kcc_intake.replies import ReplyService
from kcc_intake.service import IntakeService


# Dependencies as coroutines: FastAPI runs a plain `def` one in a worker thread, per request.
async def _service(request: Request) -> IntakeService:
    return request.app.state.intake


async def _mail(request: Request) -> EmailIntake:
    return request.app.state.mail


async def _replies(request: Request) -> ReplyService:
    return request.app.state.replies


Intake = Annotated[IntakeService, Depends(_service)]
Replies = Annotated[ReplyService, Depends(_replies)]
Mail = Annotated[EmailIntake, Depends(_mail)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=200, description="Same key twice = one contact")
]

ACCEPTED = {
    "status_code": status.HTTP_202_ACCEPTED,
    "responses": {
        413: {"description": "Body or attachment larger than configured"},
        415: {"description": "Not application/json"},
        422: {"description": "A field is missing or invalid: `detail` names it and says why"},
    },
}

router = APIRouter(prefix="/v1")


@router.post("/channels/web/submissions", tags=["channels"], summary="Website contact form or e-form", **ACCEPTED)
async def post_web_submission(form: m.WebFormSubmission, intake: Intake, key: IdempotencyKey = None) -> m.Accepted:
    try:
        return await intake.web_form(form, idempotency_key=key)
    except AttachmentTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except UndecodableAttachment as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.post("/channels/web/appointments", tags=["channels"], summary="Online appointment booking", **ACCEPTED)
async def post_web_appointment(booking: m.WebAppointmentBooking, intake: Intake, key: IdempotencyKey = None) -> m.Accepted:
    return await intake.web_appointment(booking, idempotency_key=key)


@router.post("/channels/telephone/events", tags=["channels"], summary="Call event from the telephony platform (CTI)", **ACCEPTED)
async def post_call_event(call: Annotated[m.CallEventIn, Body()], intake: Intake) -> m.Recorded:
    return await intake.call_event(call)


@router.post("/channels/counter/visits", tags=["channels"], summary="Queue-ticket event at the counter", **ACCEPTED)
async def post_counter_visit(visit: m.CounterVisitIn, intake: Intake) -> m.Recorded:
    return await intake.counter_visit(visit)


@router.post("/channels/counter/appointments", tags=["channels"], summary="Appointment planner event", **ACCEPTED)
async def post_counter_appointment(appointment: m.CounterAppointmentIn, intake: Intake) -> m.Recorded:
    return await intake.counter_appointment(appointment)


@router.post("/channels/letters", tags=["channels"], summary="Scanned letter registered by the post room", **ACCEPTED)
async def post_letter(letter: m.LetterIn, intake: Intake) -> m.Accepted:
    return await intake.letter(letter)


@router.post("/channels/social/messages", tags=["channels"], summary="Message from a social or messaging platform", **ACCEPTED)
async def post_social(message: m.SocialMessageIn, intake: Intake) -> m.Accepted:
    return await intake.social(message)


@router.post("/channels/email/inbound", tags=["channels"], summary="Inbound mail posted by a mail provider", **ACCEPTED)
async def post_inbound_email(email: m.InboundEmailIn, mail: Mail, request: Request) -> m.Accepted:
    unknown = [address for address in email.to if not mail.accepts(address)]
    if len(unknown) == len(email.to):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"to: no mailbox of ours among {email.to}")
    limit = request.app.state.max_attachment_bytes
    if any(a.size > limit for a in email.attachments):
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"attachments: each at most {limit} bytes")
    parsed = ParsedMail(
        message_id=email.message_id, from_address=email.from_address, to=email.to, subject=email.subject,
        text=email.text, html=email.html, in_reply_to=email.in_reply_to,
        attachments=[a.model_dump() for a in email.attachments],  # type: ignore[misc]
    )
    return await mail.accept(parsed, received_at=email.received_at)


@router.get("/contacts/{contact_id}", tags=["contacts"], summary="One contact (contactmoment)")
async def get_contact(contact_id: str, intake: Intake) -> ContactReceivedData:
    contact = await intake.get_contact(contact_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    return contact


@router.post(
    "/contacts/{contact_id}/acknowledgement", tags=["contacts"], status_code=status.HTTP_202_ACCEPTED,
    summary="The post room sent the acknowledgement of receipt (ontvangstbevestiging) for a contact",
    responses={404: {"description": "No such contact"}, 422: {"description": "`detail` names the invalid field"}},
)
async def post_acknowledgement(contact_id: str, intake: Intake, body: m.AcknowledgementIn | None = None) -> m.Recorded:
    body = body or m.AcknowledgementIn()
    recorded = await intake.acknowledged(contact_id, at=body.acknowledged_at, means=body.means)
    if recorded is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    return recorded


@router.get(
    "/citizens/timeline", tags=["contacts"], summary="A citizen's contacts on every channel, newest first (every look is logged)",
    description=(
        "Each call is recorded before the answer is sent (protocollering): the token's subject and roles, the time, "
        "the citizen's identifiers as pseudonyms and masked, the `reason` given and how many contacts were shown. "
        "`ops` reads the log at `GET /v1/access-log`."
    ),
    responses={422: {"description": "A field is missing or invalid: `detail` names it and says why"}},
)
async def get_timeline(
    intake: Intake,
    request: Request,
    reason: Annotated[str, Query(
        min_length=3, max_length=200, description="Why the agent looks (doelbinding), e.g. 'contact c-123 in behandeling'",
    )],
    replies: Replies,
    bsn: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> m.TimelinePage:
    try:
        citizen = m.CitizenFields(bsn=bsn, phone=phone, email=email).model_dump(exclude_none=True)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if not citizen:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give at least one of bsn, phone, email")
    if len(reason.strip()) < 3:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "reason: say why you look (at least 3 characters)")
    principal = request.state.principal
    return await replies.with_replies(await intake.timeline(
        citizen, page=page, page_size=page_size, viewer=principal.subject, roles=sorted(principal.roles), reason=reason.strip()
    ))


@router.get(
    "/access-log", tags=["protocollering"], summary="Who looked at which citizen's timeline, when and why (newest first)",
    responses={422: {"description": "A field is missing or invalid: `detail` names it and says why"}},
)
async def get_access_log(
    intake: Intake,
    bsn: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    viewer: Annotated[str | None, Query(min_length=1, max_length=200, description="Only this token subject's looks")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> m.AccessLogPage:
    try:
        citizen = m.CitizenFields(bsn=bsn, phone=phone, email=email).model_dump(exclude_none=True)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return m.AccessLogPage(items=await intake.timeline_views(citizen, viewer=viewer, limit=limit))
