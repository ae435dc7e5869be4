"""Retention on the real store: call-backs requested before the retention period lose the
phone number and the agents' notes in the daily purge; recent ones keep them."""

from datetime import UTC, datetime, timedelta

import pytest

from kcc_callback.app import create_app
from kcc_callback.models import AttemptBody
from kcc_callback.settings import CallbackSettings
from kcc_shared.contracts import CallbackRequested, CallbackRequestedData
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

PHONE_KEY = "phone:" + "cd" * 16


async def callback_with_a_note(app, *, requested_at: datetime) -> str:
    callback_id = unique("cb")
    await app.state.callbacks.request(CallbackRequested.create(
        source="/tests", subject=callback_id,
        data=CallbackRequestedData(
            callback_id=callback_id, contact_id=unique("c"), department_id=unique("dept"), phone_key=PHONE_KEY,
            requested_at=requested_at,
        ),
    ))
    await app.state.repository.set_phone(callback_id, "+31687654321")  # as the registry gave it
    await app.state.callbacks.attempt(callback_id, AttemptBody(agent_id="mw-1", outcome="voicemail", note="Mevrouw Jansen, na 11:00"))
    return callback_id


async def test_call_backs_past_the_retention_period_lose_number_and_notes(service_env):
    service_env("callback")
    app = create_app(CallbackSettings())
    now = datetime.now(UTC)
    async with running(app):
        old = await callback_with_a_note(app, requested_at=now - timedelta(days=380))
        recent = await callback_with_a_note(app, requested_at=now - timedelta(days=20))

        result = await app.state.retention.run_once()

        assert result["callbacks"] == 1
        db = app.state.infra.db
        purged, kept = await db["callbacks"].find_one({"_id": old}), await db["callbacks"].find_one({"_id": recent})
        assert "phone" not in purged and "phone_key" not in purged
        assert [a["note"] for a in purged["attempts"]] == [None] and purged["attempts"][0]["outcome"] == "voicemail"
        assert purged["outbox"] == []  # its events were published; nothing of it waits anywhere else
        assert "Jansen" not in str(purged)
        assert kept["phone"] == "+31687654321" and kept["attempts"][0]["note"] == "Mevrouw Jansen, na 11:00"
        assert (await app.state.callbacks.phone(recent)) == "+31687654321"
        assert (await app.state.retention.run_once())["callbacks"] == 0
