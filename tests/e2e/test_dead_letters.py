"""A back-office that never takes its work, seen and handled the way an operator would: a
department's webhook URL is misconfigured (the back-office answers 404). Routing still decides
and publishes the contact at once (the delivery is off the consumer's path); its delivery queue
tries again with back-off and, after the last try, puts the work item on the dead-letter topic
with the reason. `kcc dlq list` (the real command, in its own process) shows it; once the URL is
corrected the next contact is delivered, and `kcc dlq replay` puts the dead-lettered work item on
the department's topic, where a back-office reading Kafka gets it. A second replay is refused."""

import asyncio
import json
import sys
from datetime import UTC, datetime

import pytest

from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import CONTACT_RECEIVED, Channel, ContactReceived, ContactReceivedData
from kcc_shared.deadletters import DeadLetters, wait_for_dead_letter
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.e2e


async def kcc(*args: str) -> tuple[int, str, str]:
    """Run the `kcc` command line in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kcc_cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def poll(fetch, done, *, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_an_undeliverable_work_item_is_dead_lettered_listed_by_the_cli_and_replayed_to_the_department(
    service_env, webhook_receiver, real_stack, topic_reader, monkeypatch
):
    service_env("routing")
    # Three tries, 0.2 s then 0.8 s apart (the production back-off is 25·4ⁿ s over 7 tries).
    monkeypatch.setenv("KCC_ROUTING_DELIVERY_TRIES", "3")
    monkeypatch.setenv("KCC_ROUTING_DELIVERY_BACKOFF_S", "0.2")
    monkeypatch.setenv("KCC_ROUTING_DELIVERY_POLL_S", "0.2")
    bootstrap = real_stack["kafka"]
    app = routing_app(RoutingSettings())
    infra = app.state.infra
    group = f"{infra.settings.group_id}.webhooks"
    hook_url = await webhook_receiver.start()
    department = unique("werk")
    spec = {
        "id": department, "name": "Werk en inkomen (test)", "joins_kcc_on": "2099-01-01",
        "opening_hours": {"mon": [{"opens": "08:00", "closes": "17:00"}]}, "products": ["bijstand"],
    }

    def contact(text: str) -> ContactReceived:
        contact_id = unique("c")
        return ContactReceived.create(
            source="/kcc/intake", subject=contact_id,
            data=ContactReceivedData(contact_id=contact_id, channel=Channel.EMAIL, received_at=datetime.now(UTC), subject="Bijstand", text=text),
        )

    async with running(app) as routing:
        wrong = await routing.put(f"/v1/organisation/departments/{department}", json={**spec, "webhook_url": hook_url + "s"})
        assert wrong.status_code == 200, wrong.text
        feed = await topic_reader(f"kcc.dept.{department}.contacts.v1")
        event = contact("Ik heb geen inkomen meer en wil bijstand aanvragen.")
        contact_id = event.data.contact_id
        await infra.publisher.publish(event, topic=CONTACT_RECEIVED)
        # Decided and on the department's topic at once, whatever the webhook does.
        [first] = await feed.read(count=1, match=lambda r: json.loads(r.value)["data"]["contact_id"] == contact_id, timeout=60)
        [letter] = await wait_for_dead_letter(DeadLetters(bootstrap=bootstrap), group=group, event_id=json.loads(first.value)["id"], timeout=60)
        stored = await infra.db["deliveries"].find_one({"key": contact_id})
        assert (stored["status"], stored["attempts"], stored["last_error"]) == ("dead", 3, "HTTP 404")

        code, out, err = await kcc("dlq", "list", "--bootstrap", bootstrap, "--group", group)
        assert code == 0, err
        header, *rows, total = out.strip().splitlines()
        assert header.split()[:3] == ["ID", "DEAD-LETTERED", "(UTC)"]
        [row] = [r for r in rows if r.startswith(f"{letter.id} ")]
        for shown in (group, f"kcc.dept.{department}.contacts.v1[", "nl.contactstad.department.contact-assigned", "HTTP 404"):
            assert shown in row, (shown, row)
        assert row.split()[7:9] == ["3", "no"]  # tries, replayed
        assert total == "1 dead letter"

        code, out, _ = await kcc("dlq", "list", "--bootstrap", bootstrap, "--group", group, "--json")
        [listed] = json.loads(out)
        assert listed["id"] == letter.id and listed["original_topic"] == f"kcc.dept.{department}.contacts.v1"
        assert listed["error"] == f"HTTP 404 from the webhook after 3 tries: {hook_url}s"
        assert listed["attempts"] == 3 and listed["replayed"] is False
        code, out, _ = await kcc("dlq", "show", letter.id, "--bootstrap", bootstrap)
        assert code == 0 and f"error: {listed['error']}" in out and "payload" not in out
        assert webhook_receiver.received == []

        # The fix: the department's webhook URL is corrected through routing's API; the next
        # contact reaches the back-office once.
        fixed = await routing.put(f"/v1/organisation/departments/{department}", json={**spec, "webhook_url": hook_url})
        assert fixed.status_code == 200 and fixed.json()["webhook_url"] == hook_url
        later = contact("Ik heb geen inkomen meer en wil bijstand aanvragen.")
        await infra.publisher.publish(later, topic=CONTACT_RECEIVED)
        delivered = await poll(
            lambda: _noop([b for _, b in webhook_receiver.received if b["data"]["contact_id"] == later.data.contact_id]), bool
        )
        assert [(b["data"]["department_id"], b["data"]["decision"]) for b in delivered] == [(department, "forward_to_department")]

        # The dead-lettered work item, replayed, lands on the department's topic again (by its key).
        code, out, err = await kcc("dlq", "replay", letter.id, "--bootstrap", bootstrap, "--by", "ops-test")
        assert code == 0, err
        assert f"replayed {letter.id} -> kcc.dept.{department}.contacts.v1 partition " in out
        assert out.strip().endswith("1 replayed")
        [replayed] = await feed.read(count=1, match=lambda r: json.loads(r.value)["data"]["contact_id"] == contact_id, timeout=30)
        assert json.loads(replayed.value)["id"] == json.loads(first.value)["id"]
        assert replayed.partition == first.partition and replayed.key == first.key  # keyed by the contact, as the original

        code, _, err = await kcc("dlq", "replay", letter.id, "--bootstrap", bootstrap)
        assert code == 3 and f"dead letter {letter.id} was already replayed" in err and "by ops-test" in err
        code, out, _ = await kcc("dlq", "list", "--bootstrap", bootstrap, "--group", group, "--pending")
        assert out.strip().splitlines()[-1] == "0 dead letters"


async def _noop(value):
    return value
