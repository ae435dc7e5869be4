"""Issue 7 acceptance on the real stack: every route of every service × every role (and no
token, an expired one, one from another issuer, a tampered one) gets the table's answer;
department A cannot see department B's call-backs or routing decisions."""

import asyncio
import base64
import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.access import app_routes, rules_for
from kcc_shared.contracts import (
    CALLBACK_REQUESTED, CONTACT_RECEIVED, CallbackRequested, CallbackRequestedData, Channel, ContactReceived,
    ContactReceivedData,
)
from kcc_shared.devauth import CHANNELS, DevKeys
from kcc_shared.testing import NO_AUTH, TestAuth, client_auth, credentials, running, unique

pytestmark = pytest.mark.e2e

ROLES = (
    "agent", "ops", "admin", "department:burgerzaken", "department:belastingen", "service:routing",
    *(f"integrator:{c}" for c in CHANNELS),
)
SAMPLE = {"department_id": "burgerzaken", "department": "burgerzaken"}  # other parameters: an unknown id


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin", "agent", "ops"]
    return f"{header}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{signature}"


BAD_TOKENS = {
    "none": lambda: None,
    "expired": lambda: credentials().token(["agent", "ops", "admin"], ttl_s=-300),
    "other-issuer": lambda: DevKeys.generate(issuer="https://login.example.org/").token(["agent", "ops", "admin"]),
    "foreign-issuer-same-key": lambda: credentials().token(["agent", "ops", "admin"], issuer="https://login.example.org/"),
    "tampered": lambda: tampered(credentials().token(["integrator:web"])),
}


def allowed_by_table(allow: tuple[str, ...], role: str, params: dict[str, str]) -> bool:
    """The table read independently of the guard's own code."""
    for pattern in allow:
        kind, _, arg = pattern.partition(":")
        if pattern == role or (arg == "*" and role.startswith(f"{kind}:")):
            return True
        if arg.startswith("{") and role == f"{kind}:{params.get(arg[1:-1])}":
            return True
    return False


def concrete(path: str, allow: tuple[str, ...]) -> tuple[str, dict[str, str], dict[str, str]]:
    """A URL for a path template, the query it needs for parameter-bound roles, and all parameters."""
    params: dict[str, str] = {}
    url = path
    while "{" in url:
        name = url[url.index("{") + 1:url.index("}")]
        params[name] = SAMPLE.get(name, unique("no-such"))
        url = url.replace("{" + name + "}", params[name], 1)
    query = {}
    for pattern in allow:
        arg = pattern.partition(":")[2]
        if arg.startswith("{") and arg[1:-1] not in params:
            query[arg[1:-1]] = params[arg[1:-1]] = SAMPLE[arg[1:-1]]
    return url, query, params


@pytest.fixture
async def platform(service_env):
    for service in ("intake", "routing", "callback", "metrics"):
        service_env(service)
    apps = {
        "intake": intake_app(IntakeSettings()),
        "routing": routing_app(RoutingSettings()),
        "callback": callback_app(CallbackSettings()),
        "metrics": metrics_app(MetricsSettings()),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app, roles=None)) for name, app in apps.items()}
        yield apps, clients


async def test_every_route_of_every_service_answers_each_role_as_the_table_says(platform):
    apps, clients = platform
    checked, wrong = 0, []
    for service, app in apps.items():
        table = rules_for(service)
        client = clients[service]
        for method, path in app_routes(app):
            rule = table[(method, path)]
            url, query, params = concrete(path, rule.allow)

            async def call(auth, *, token: str | None = None):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = {"json": {"probe": unique("p")}} if method in ("POST", "PUT") else {}
                return await client.request(method, url, params=query, headers=headers, auth=auth, **body)

            for role in ROLES:
                response = await call(client_auth([role]))
                expected = rule.public or allowed_by_table(rule.allow, role, params)
                denied = response.status_code in (401, 403)
                checked += 1
                if expected == denied:
                    wrong.append((service, method, path, role, response.status_code, response.text[:200]))
            for name, forge in BAD_TOKENS.items():
                response = await call(NO_AUTH if name == "none" else TestAuth(None), token=forge())
                checked += 1
                if rule.public != (response.status_code != 401):
                    wrong.append((service, method, path, name, response.status_code, response.text[:200]))
                if not rule.public:
                    assert response.headers["www-authenticate"].startswith('Bearer realm="contact-stad"')
                    assert set(response.json()) == {"detail"}  # no data
    print(f"checked {checked} route × caller combinations")
    assert wrong == []
    assert checked > 600


async def poll(fetch, done, *, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_department_a_cannot_see_or_touch_department_b_s_callbacks(service_env):
    service_env("callback")
    app = callback_app(CallbackSettings())
    a, b = unique("dept-a"), unique("dept-b")
    callback_id = unique("cb")
    async with running(app) as client:
        await app.state.infra.publisher.publish(
            CallbackRequested.create(
                source="/tests", subject=callback_id,
                data=CallbackRequestedData(
                    callback_id=callback_id, contact_id=unique("c"), department_id=a, phone="+31612345678",
                    reason="Vraag over de aanslag", requested_at=datetime.now(UTC),
                ),
            ),
            topic=CALLBACK_REQUESTED,
        )
        booked = await poll(lambda: client.get(f"/v1/callbacks/{callback_id}"), lambda r: r.status_code == 200)
        assert booked.status_code == 200, booked.text
        as_a, as_b = client_auth([f"department:{a}"]), client_auth([f"department:{b}"])

        mine = await client.get(f"/v1/callbacks/{callback_id}", auth=as_a)
        theirs = await client.get(f"/v1/callbacks/{callback_id}", auth=as_b)
        assert mine.status_code == 200 and mine.json()["callback_id"] == callback_id
        assert theirs.status_code == 404 and callback_id not in json.dumps(theirs.json().get("detail")).replace(callback_id, "", 1)
        assert "phone" not in theirs.text and a not in theirs.text

        assert (await client.get(f"/v1/departments/{a}/callbacks/due-today", auth=as_b)).status_code == 403
        assert (await client.get(f"/v1/departments/{a}/callbacks/due-today", auth=as_a)).status_code == 200
        claim = await client.post(f"/v1/callbacks/{callback_id}/claim", json={"employee_id": "mallory"}, auth=as_b)
        assert claim.status_code == 404
        assert (await client.get(f"/v1/callbacks/{callback_id}", auth=as_a)).json()["status"] == "scheduled"
        claim = await client.post(f"/v1/callbacks/{callback_id}/claim", json={"employee_id": "anna"}, auth=as_a)
        assert claim.status_code == 200, claim.text


async def test_department_a_cannot_read_department_b_s_routing_decision(service_env):
    service_env("routing")
    app = routing_app(RoutingSettings())
    async with running(app) as client:
        contact_id = unique("c")
        now = datetime.now(UTC)
        event = ContactReceived.create(
            source="/tests", subject=contact_id, time=now,
            data=ContactReceivedData(
                contact_id=contact_id, channel=Channel.EMAIL, received_at=now,
                text="Bezwaar tegen de aanslag onroerendezaakbelasting van dit jaar",
            ),
        )
        for _ in range(3):  # redelivery is harmless (idempotent); a fresh group may start late
            await app.state.infra.publisher.publish(event, topic=CONTACT_RECEIVED)
            decision = await poll(lambda: client.get(f"/v1/decisions/{contact_id}"), lambda r: r.status_code == 200, timeout=10)
            if decision.status_code == 200:
                break
        assert decision.status_code == 200, decision.text
        owner = decision.json()["department_id"]
        assert owner, decision.json()
        other = "burgerzaken" if owner != "burgerzaken" else "belastingen"
        mine = await client.get(f"/v1/decisions/{contact_id}", auth=client_auth([f"department:{owner}"]))
        theirs = await client.get(f"/v1/decisions/{contact_id}", auth=client_auth([f"department:{other}"]))
        assert mine.status_code == 200 and mine.json()["contact_id"] == contact_id
        assert theirs.status_code == 404 and "text" not in theirs.json() and owner not in theirs.text
