"""A poison message on the real stack, seen and fixed the way an operator would: routing cannot
deliver a contact to a department whose webhook URL is misconfigured (the back-office answers
404), so after its retries the contact lands on the dead-letter topic. `kcc dlq list` (the real
command, in its own process) shows it with the reason; once the department's URL is corrected,
`kcc dlq replay` sends it again and routing processes it: the back-office gets the contact and
routing's inbox records the event. A second replay of the same dead letter is refused."""

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


async def test_a_dead_letter_is_listed_by_the_cli_and_processed_after_the_fix_and_a_replay(
    service_env, webhook_receiver, real_stack
):
    service_env("routing")
    bootstrap = real_stack["kafka"]
    app = routing_app(RoutingSettings())
    infra = app.state.infra
    group = infra.settings.group_id
    hook_url = await webhook_receiver.start()
    department = unique("werk")
    spec = {
        "id": department, "name": "Werk en inkomen (test)", "joins_kcc_on": "2099-01-01",
        "opening_hours": {"mon": [{"opens": "08:00", "closes": "17:00"}]}, "products": ["bijstand"],
    }
    async with running(app) as routing:
        wrong = await routing.put(f"/v1/organisation/departments/{department}", json={**spec, "webhook_url": hook_url + "s"})
        assert wrong.status_code == 200, wrong.text
        contact_id = unique("c")
        event = ContactReceived.create(
            source="/kcc/intake", subject=contact_id,
            data=ContactReceivedData(
                contact_id=contact_id, channel=Channel.EMAIL, received_at=datetime.now(UTC),
                subject="Bijstand", text="Ik heb geen inkomen meer en wil bijstand aanvragen.",
            ),
        )
        await infra.publisher.publish(event, topic=CONTACT_RECEIVED)
        [letter] = await wait_for_dead_letter(DeadLetters(bootstrap=bootstrap), group=group, event_id=event.id, timeout=60)

        code, out, err = await kcc("dlq", "list", "--bootstrap", bootstrap, "--group", group)
        assert code == 0, err
        header, *rows, total = out.strip().splitlines()
        assert header.split()[:3] == ["ID", "DEAD-LETTERED", "(UTC)"]
        [row] = [r for r in rows if r.startswith(f"{letter.id} ")]
        for shown in (group, f"{CONTACT_RECEIVED.name}[", "nl.contactstad.contact.received", event.id, "HTTPStatusError", "404"):
            assert shown in row, (shown, row)
        assert row.split()[7:9] == ["4", "no"]  # tries, replayed
        assert total == "1 dead letter"

        code, out, _ = await kcc("dlq", "list", "--bootstrap", bootstrap, "--group", group, "--json")
        [listed] = json.loads(out)
        assert listed["id"] == letter.id and listed["event_id"] == event.id and listed["original_topic"] == CONTACT_RECEIVED.name
        assert listed["error"].startswith("HTTPStatusError: Client error '404 Status' for url") and hook_url + "s" in listed["error"]
        assert listed["attempts"] == 4 and listed["replayed"] is False
        code, out, _ = await kcc("dlq", "show", letter.id, "--bootstrap", bootstrap)
        assert code == 0 and f"error: {listed['error']}" in out and "payload" not in out
        assert webhook_receiver.received == []

        # The fix: the department's webhook URL is corrected through routing's API.
        fixed = await routing.put(f"/v1/organisation/departments/{department}", json={**spec, "webhook_url": hook_url})
        assert fixed.status_code == 200 and fixed.json()["webhook_url"] == hook_url
        code, out, err = await kcc("dlq", "replay", letter.id, "--bootstrap", bootstrap, "--by", "ops-test")
        assert code == 0, err
        assert out.startswith(f"replayed {letter.id} -> {CONTACT_RECEIVED.name} partition {letter.original_partition} ")
        assert out.strip().endswith("1 replayed")

        inbox = infra.db["inbox"]
        processed = await poll(lambda: inbox.find_one({"_id": f"{group}/{CONTACT_RECEIVED.name}:{event.id}"}), lambda d: d is not None)
        assert processed is not None and processed["event_id"] == event.id
        delivered = [body for _, body in webhook_receiver.received if body["data"]["contact_id"] == contact_id]
        assert [(b["data"]["department_id"], b["data"]["decision"]) for b in delivered] == [(department, "forward_to_department")]
        decision = (await routing.get(f"/v1/decisions/{contact_id}")).json()
        assert (decision["decision"], decision["department_id"]) == ("forward_to_department", department)

        code, _, err = await kcc("dlq", "replay", letter.id, "--bootstrap", bootstrap)
        assert code == 3 and f"dead letter {letter.id} was already replayed" in err and "by ops-test" in err
        code, out, _ = await kcc("dlq", "list", "--bootstrap", bootstrap, "--group", group, "--pending")
        assert out.strip().splitlines()[-1] == "0 dead letters"
        await asyncio.sleep(1.0)  # a second delivery to the back-office would show by now
        assert len([b for _, b in webhook_receiver.received if b["data"]["contact_id"] == contact_id]) == 1
