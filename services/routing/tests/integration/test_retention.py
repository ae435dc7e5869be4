"""Retention on the real store: routing's work items received before the retention period lose
their content and pseudonyms in the daily purge; recent ones keep them."""

from datetime import UTC, datetime, timedelta

import pytest

from kcc_routing.app import create_app
from kcc_routing.queues import work_item
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import Channel, ContactRoutedData
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

PHONE_KEY = "phone:" + "ab" * 16


def item(*, received_at: datetime) -> dict:
    decision = ContactRoutedData(
        contact_id=unique("c"), channel=Channel.EMAIL, decision="answer_in_kcc", reason="KCC answers", department_id="kcc",
        routed_at=received_at,
    )
    return work_item(
        decision, subject="Grofvuil", text="Wanneer wordt mijn grofvuil opgehaald?", phone_key=PHONE_KEY,
        received_at=received_at, now=received_at, citizen={"phone": PHONE_KEY},
    )


async def test_work_items_past_the_retention_period_lose_their_content(service_env):
    service_env("routing")
    app = create_app(RoutingSettings(retention_months=6))
    now = datetime.now(UTC)
    async with running(app):
        old, recent = item(received_at=now - timedelta(days=200)), item(received_at=now - timedelta(days=150))
        for work in (old, recent):
            await app.state.routing.queues.enqueue(work)

        assert await app.state.retention.run_once() == {"work": 1}

        db = app.state.infra.db
        purged, kept = await db["work"].find_one({"_id": old["_id"]}), await db["work"].find_one({"_id": recent["_id"]})
        assert not {"subject", "text", "phone_key", "citizen"} & set(purged) and purged["channel"] == "email"
        assert (kept["subject"], kept["text"], kept["phone_key"]) == ("Grofvuil", "Wanneer wordt mijn grofvuil opgehaald?", PHONE_KEY)
        assert await app.state.retention.run_once() == {"work": 0}
