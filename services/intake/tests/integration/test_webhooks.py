"""Signed channel webhooks on the real stack: a bad signature, an old timestamp, a replayed
signature and a missing one get 401 and publish nothing on the real topic; a token of another
integrator gets 403; the properly signed call is published once."""

import json
import time

import pytest

from kcc_shared.contracts import CALL_EVENTS
from kcc_shared.testing import client_auth, credentials, unique
from kcc_shared.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

pytestmark = pytest.mark.integration

URL = "/v1/channels/telephone/events"


def body(call_id: str) -> bytes:
    return json.dumps(
        {"event": "offered", "call_id": call_id, "at": "2026-11-23T09:14:00+01:00", "dialled_number": "14050"}
    ).encode()


async def test_bad_old_replayed_and_missing_signatures_get_401_and_publish_nothing(intake, topic_reader):
    calls = await topic_reader(CALL_EVENTS.name)
    secret = credentials().webhook_secrets["telephone"]
    telephony = client_auth(["integrator:telephone"], sign_webhooks=False)  # we sign by hand
    json_type = {"content-type": "application/json"}

    async def post(payload: bytes, headers: dict[str, str], auth=telephony):
        return await intake.post(URL, content=payload, headers={**json_type, **headers}, auth=auth)

    good_call, refused = unique("call"), [unique("call") for _ in range(4)]
    signed = sign(secret, body(good_call))
    accepted = await post(body(good_call), signed)
    assert accepted.status_code == 202, accepted.text

    replay = await post(body(good_call), signed)
    wrong_secret = await post(body(refused[0]), sign("not-the-secret", body(refused[0])))
    tampered_body = await post(body(refused[1]), signed)  # the good call's signature on another body
    stale = int(time.time()) - 301
    too_old = await post(body(refused[2]), sign(secret, body(refused[2]), timestamp=stale))
    unsigned = await post(body(refused[3]), {})
    for response, reason in (
        (replay, "replay"), (wrong_secret, "does not match"), (tampered_body, "does not match"),
        (too_old, "more than 300 s"), (unsigned, "required"),
    ):
        assert response.status_code == 401, (reason, response.text)
        assert reason in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("KCC-Signature")

    # Signed properly, but by a token of another channel's integrator: 403, nothing published.
    other = unique("call")
    wrong_role = await post(body(other), sign(secret, body(other)), auth=client_auth(["integrator:social"], sign_webhooks=False))
    assert wrong_role.status_code == 403

    records = await calls.read(count=10, timeout=5.0)
    ids = [json.loads(r.value)["data"]["call_id"] for r in records]
    assert ids.count(good_call) == 1
    assert not {*refused, other} & set(ids)
    stored = await intake.app.state.infra.db["webhook_signatures"].count_documents({})
    assert stored == 1  # only the accepted signature was remembered


async def test_the_default_test_client_signs_every_webhook_channel(intake):
    # The four signed sources answer as before with the plugin's client (validation, not 401).
    for url, payload in (
        ("/v1/channels/counter/visits", {}),
        ("/v1/channels/counter/appointments", {}),
        ("/v1/channels/social/messages", {}),
        ("/v1/channels/email/inbound", {}),
    ):
        response = await intake.post(url, json=payload)
        assert response.status_code == 422, (url, response.text)
    # The same event posted twice at once is signed afresh each time: intake de-duplicates it.
    call = json.loads(body(unique("call")))
    first, second = [await intake.post(URL, json=call) for _ in range(2)]
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert int(second.request.headers[TIMESTAMP_HEADER]) > int(first.request.headers[TIMESTAMP_HEADER])
    assert second.request.headers[SIGNATURE_HEADER] != first.request.headers[SIGNATURE_HEADER]
