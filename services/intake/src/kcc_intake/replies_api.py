"""Answers and attachments of a contact: agents and the owning department's back-office."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status

from kcc_intake import models as m
from kcc_intake.attachments import AttachmentStore, AttachmentTooLarge, UndecodableAttachment
from kcc_intake.api import Replies
from kcc_intake.replies import ContactNotFound, ReplyRefused


async def _attachments(request: Request) -> AttachmentStore:
    return request.app.state.attachments


Attachments = Annotated[AttachmentStore, Depends(_attachments)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=200, description="Same key twice = one reply")
]

router = APIRouter(prefix="/v1", tags=["replies"])


def _file(meta: dict, content: bytes) -> Response:
    filename = meta["filename"].replace('"', "'").encode("ascii", "replace").decode()
    return Response(
        content, media_type=meta["content_type"],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-SHA256": meta["sha256"]},
    )


@router.get("/contacts/{contact_id}/attachments", summary="A contact's attachments: names, sizes, SHA-256")
async def list_attachments(contact_id: str, attachments: Attachments) -> list[m.StoredAttachment]:
    return [m.StoredAttachment(**a) for a in await attachments.of_contact(contact_id)]


@router.get(
    "/contacts/{contact_id}/attachments/{attachment_id}", summary="One attachment's content, with its SHA-256 in X-Content-SHA256",
    response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}, 404: {"description": "No such attachment"}},
)
async def get_attachment(contact_id: str, attachment_id: str, attachments: Attachments) -> Response:
    found = await attachments.get(contact_id=contact_id, attachment_id=attachment_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no attachment {attachment_id} of contact {contact_id}")
    return _file(*found)


@router.post(
    "/contacts/{contact_id}/replies", status_code=status.HTTP_201_CREATED,
    summary="Answer a contact on the citizen's channel (e-mail, letter, social)",
    responses={
        404: {"description": "No such contact"}, 413: {"description": "An attachment (or all together) over the limit"},
        422: {"description": "`detail` names the field: no e-mail address, no channel for a call, bad base64"},
    },
)
async def post_reply(
    contact_id: str, body: m.ReplyIn, replies: Replies, request: Request, key: IdempotencyKey = None
) -> m.ReplyOut:
    principal = getattr(request.state, "principal", None)
    try:
        return await replies.reply(
            contact_id, body, replied_by=principal.subject if principal else "unknown", idempotency_key=key
        )
    except ContactNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}") from exc
    except AttachmentTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except (ReplyRefused, UndecodableAttachment) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.get("/contacts/{contact_id}/replies/{reply_id}", summary="One answer: its status (queued, sent, undelivered) and check")
async def get_reply(contact_id: str, reply_id: str, replies: Replies) -> m.ReplyOut:
    reply = await replies.get(contact_id=contact_id, reply_id=reply_id)
    if reply is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reply {reply_id} to contact {contact_id}")
    return reply


@router.get(
    "/contacts/{contact_id}/replies/{reply_id}/letter", summary="The answer letter as PDF, for the post room",
    response_class=Response, responses={200: {"content": {"application/pdf": {}}}, 404: {"description": "No such letter"}},
)
async def get_letter(contact_id: str, reply_id: str, replies: Replies) -> Response:
    found = await replies.letter_pdf(contact_id=contact_id, reply_id=reply_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no letter for reply {reply_id} to contact {contact_id}")
    return _file(*found)
