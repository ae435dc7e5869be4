"""Retention on the real store: a contact received before the retention period loses its
content and identifiers in the daily purge; a recent one keeps them."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


async def post_form(intake, *, at: datetime, **citizen) -> str:
    photo = {"filename": "eik.jpg", "content_type": "image/jpeg", "content_base64": base64.b64encode(b"eik" * 100).decode()}
    response = await intake.post("/v1/channels/web/submissions", json={
        "form_id": "contactformulier", "submission_id": unique("web"), "subject": "Kapvergunning",
        "message": "Mag ik de eik in mijn tuin kappen?", "submitted_at": at.isoformat(), "attachments": [photo], **citizen,
    })
    assert response.status_code == 202, response.text
    return response.json()["contact_id"]


async def test_a_contact_past_the_retention_period_is_purged_and_a_recent_one_is_not(intake):
    now = datetime.now(UTC)
    old = await post_form(intake, at=now - timedelta(days=400), bsn="111222333", email="oud@example.nl")
    recent = await post_form(intake, at=now - timedelta(days=300), email="oud@example.nl", phone="0612345678")
    db = intake.app.state.infra.db
    old_doc = await db["contacts"].find_one({"_id": old})
    bsn_pseudonym = old_doc["pseudonyms"]["bsn"]
    # Its registry values were registered back then too (registration happens on receipt).
    for pseudonym in old_doc["pseudonyms"].values():
        await db["registry"].update_one({"_id": pseudonym}, {"$set": {"registered_at": now - timedelta(days=400)}})
    # Its photo was stored then, and an answer letter made then (answers and files follow the same period).
    reply = await intake.post(f"/v1/contacts/{old}/replies", json={"text": "U mag de eik kappen.", "channel": "letter"})
    assert reply.status_code == 201, reply.text
    await db["attachments.files"].update_many({"metadata.contact_id": old}, {"$set": {"uploadDate": now - timedelta(days=400)}})
    await db["replies"].update_one({"_id": reply.json()["reply_id"]}, {"$set": {"created_at": now - timedelta(days=400)}})

    purged = await intake.app.state.retention.run_once()

    # The BSN; the e-mail address is still used by the recent contact. The photo and the letter's PDF; the answer's text.
    assert purged == {"contacts": 1, "attachments": 2, "replies": 1, "registry": 1}
    assert await db["attachments.files"].count_documents({"metadata.contact_id": old}) == 0
    assert await db["attachments.files"].count_documents({"metadata.contact_id": recent}) == 1
    assert "text" not in await db["replies"].find_one({"_id": reply.json()["reply_id"]})
    old_doc = await db["contacts"].find_one({"_id": old})
    assert not {"citizen", "pseudonyms", "content", "payload"} & set(old_doc)
    assert "oud@example.nl" not in str(old_doc) and "eik" not in str(old_doc) and "111222333" not in str(old_doc)
    old_contact = (await intake.get(f"/v1/contacts/{old}")).json()
    assert (old_contact["subject"], old_contact["text"], old_contact["channel"]) == (None, None, "web")
    recent_contact = (await intake.get(f"/v1/contacts/{recent}")).json()
    assert recent_contact["text"] == "Mag ik de eik in mijn tuin kappen?"
    assert (await intake.get(f"/v1/registry/pseudonyms/{recent_contact['citizen']['email']}")).json()["value"] == "oud@example.nl"
    assert (await intake.get(f"/v1/registry/pseudonyms/{bsn_pseudonym}")).status_code == 404
    timeline = (await intake.get("/v1/citizens/timeline", params={"email": "oud@example.nl", "reason": "retention test"})).json()
    assert [c["contact_id"] for c in timeline["contacts"]] == [recent]

    assert await intake.app.state.retention.run_once() == {"contacts": 0, "attachments": 0, "replies": 0, "registry": 0}  # idempotent
