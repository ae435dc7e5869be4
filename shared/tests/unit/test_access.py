"""The access table covers every route of every service; tokens, roles, webhook signatures and
limits behave as documented (no broker or store needed: nothing here reaches a handler's I/O)."""

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.access import ACCESS, COMMON, PUBLIC, Rule, app_routes, rules_for
from kcc_shared.auth import AuthSettings, InvalidToken, Principal, TokenValidator
from kcc_shared.devauth import DevKeys
from kcc_shared.limits import RateLimiter, RateLimitSettings
from kcc_shared.testing import NO_AUTH, client_auth, credentials
from kcc_shared.webhooks import (
    SIGNATURE_HEADER, TIMESTAMP_HEADER, InvalidSignature, WebhookSettings, WebhookVerifier, sign,
)

APPS = {
    "intake": lambda: intake_app(IntakeSettings()),
    "routing": lambda: routing_app(RoutingSettings()),
    "callback": lambda: callback_app(CallbackSettings()),
    "metrics": lambda: metrics_app(MetricsSettings()),
}


@pytest.mark.parametrize("service", APPS)
def test_every_route_of_every_app_is_in_the_table(service):
    routes = set(app_routes(APPS[service]()))
    table = set(rules_for(service))
    assert routes - table == set(), f"routes of {service} missing from kcc_shared.access.ACCESS"


def test_only_probes_and_docs_are_public():
    public = {(r.method, r.path) for rules in (COMMON, *ACCESS.values()) for r in rules if r.public}
    assert {path for _, path in public} == {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def test_a_department_wildcard_without_a_resource_loader_is_refused():
    with pytest.raises(ValueError, match="resource"):
        Rule("GET", "/v1/x/{id}", ("department:*",))


def principal(*roles: str) -> Principal:
    return Principal(subject="t", roles=frozenset(roles), claims={})


def test_roles_bound_to_a_parameter_grant_only_that_department():
    rule = rules_for("callback")[("GET", "/v1/departments/{department_id}/callbacks/due-today")]
    assert rule.grant(principal("department:burgerzaken"), {"department_id": "burgerzaken"}) == "full"
    assert rule.grant(principal("department:belastingen"), {"department_id": "burgerzaken"}) is None
    assert rule.grant(principal("agent"), {"department_id": "burgerzaken"}) == "full"
    assert rule.grant(principal("integrator:web", "ops"), {"department_id": "burgerzaken"}) is None
    by_id = rules_for("callback")[("GET", "/v1/callbacks/{callback_id}")]
    assert by_id.grant(principal("department:belastingen"), {"callback_id": "x"}) == "resource"
    web = rules_for("intake")[("POST", "/v1/channels/web/submissions")]
    assert web.grant(principal("integrator:web"), {}) == "full"
    assert web.grant(principal("integrator:telephone"), {}) is None


# --- tokens -------------------------------------------------------------------------------------


def validator(keys: DevKeys, tmp_path) -> TokenValidator:
    keys.save(tmp_path)
    return TokenValidator(AuthSettings(jwks_file=tmp_path / "jwks.json", issuer=keys.issuer, audience=keys.audience))


async def test_a_valid_token_gives_its_subject_and_roles(tmp_path):
    keys = DevKeys.generate()
    who = await validator(keys, tmp_path).validate(keys.token(["agent", "department:sozawe"], subject="alice"))
    assert (who.subject, who.roles, who.scoped("department")) == ("alice", {"agent", "department:sozawe"}, {"sozawe"})


async def test_a_checked_token_is_cached_until_it_expires_and_a_bad_one_never(tmp_path, monkeypatch):
    keys = DevKeys.generate()
    check = validator(keys, tmp_path)
    token = keys.token(["agent"], subject="alice", ttl_s=30)
    first = await check.validate(token)
    verified: list[str] = []
    monkeypatch.setattr(check, "_validate", lambda t: verified.append(t) or TokenValidator._validate(check, t))
    assert await check.validate(token) is first and verified == []  # no second signature check
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 31)  # past its exp: the full check again (which has the leeway)
    await check.validate(token)
    await check.validate(token)
    assert verified == [token, token] and token not in check._checked  # noqa: SLF001
    tampered = _tamper(keys.token(["agent"]))
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await check.validate(tampered)
    assert verified.count(tampered) == 2  # a refused token is never cached


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda k, o: k.token(["agent"], ttl_s=-120), "expired"),
        (lambda k, o: k.token(["agent"], issuer="https://evil.example/"), "(?i)issuer"),
        (lambda k, o: k.token(["agent"], audience="another-app"), "(?i)audience"),
        (lambda k, o: o.token(["agent"]), "no key"),  # another key pair, unknown kid
        (lambda k, o: _tamper(k.token(["agent"])), "ignature"),
        (lambda k, o: _unsigned(["admin"]), "algorithm"),
        (lambda k, o: "not-a-jwt", "malformed"),
    ],
    ids=["expired", "other-issuer", "other-audience", "other-key", "tampered", "alg-none", "garbage"],
)
async def test_bad_tokens_are_refused_with_the_reason(tmp_path, forge, reason):
    keys, other = DevKeys.generate(), DevKeys.generate()
    with pytest.raises(InvalidToken, match=reason):
        await validator(keys, tmp_path).validate(forge(keys, other))


async def test_a_static_public_key_validates_too(tmp_path):
    from cryptography.hazmat.primitives import serialization

    keys = DevKeys.generate()
    pem = keys.private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "key.pem").write_bytes(pem)
    check = TokenValidator(AuthSettings(public_key_file=tmp_path / "key.pem", issuer=keys.issuer))
    assert (await check.validate(keys.token(["ops"]))).roles == {"ops"}


def _tamper(token: str) -> str:
    import base64

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(roles: list[str]) -> str:
    import jwt

    return jwt.encode({"sub": "x", "roles": roles}, key=None, algorithm="none")


async def test_the_app_answers_401_with_a_challenge_and_403_for_a_role_it_does_not_list():
    app = APPS["metrics"]()  # no lifespan: the guard answers before any handler
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        missing = await client.get("/v1/counts/daily", auth=NO_AUTH)
        expired = await client.get("/v1/counts/daily", headers={"Authorization": f"Bearer {credentials().token(['ops'], ttl_s=-100)}"})
        wrong_role = await client.get("/v1/counts/daily", auth=client_auth(["integrator:web"]))
        probe = await client.get("/healthz", auth=NO_AUTH)
        docs = await client.get("/openapi.json", auth=NO_AUTH)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="contact-stad"'
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert "expired" in expired.json()["detail"]
    assert wrong_role.status_code == 403 and "agent, ops, admin" in wrong_role.json()["detail"]
    assert probe.status_code == 200 and docs.status_code == 200
    operation = docs.json()["paths"]["/v1/counts/daily"]["get"]
    assert operation["security"] == [{"bearer": []}] and operation["x-kcc-roles"] == ["agent", "ops", "admin"]
    assert "security" not in docs.json()["paths"]["/healthz"]["get"]


# --- webhook signatures --------------------------------------------------------------------------


class SeenInMemory:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def first_time(self, *, source: str, signature: str, at: datetime) -> bool:
        key = f"{source}|{signature}"
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


async def test_webhook_signatures_timestamps_and_replays(monkeypatch):
    monkeypatch.delenv("KCC_WEBHOOK_SECRETS")  # the test session's secrets would merge in
    now = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)
    verifier = WebhookVerifier(
        WebhookSettings(secrets={"telephone": "s3cret"}), SeenInMemory(), clock=lambda: now
    )
    body = b'{"call_id":"c1"}'
    headers = sign("s3cret", body, timestamp=int(now.timestamp()))

    async def verify(source="telephone", payload=body, ts=headers[TIMESTAMP_HEADER], sig=headers[SIGNATURE_HEADER]):
        await verifier.verify(source=source, body=payload, timestamp=ts, signature_header=sig)

    await verify()
    with pytest.raises(InvalidSignature, match="replay"):
        await verify()
    with pytest.raises(InvalidSignature, match="does not match"):
        await verify(payload=b'{"call_id":"c2"}')
    old = int((now - timedelta(seconds=301)).timestamp())
    with pytest.raises(InvalidSignature, match="more than 300 s"):
        await verify(ts=str(old), sig=sign("s3cret", body, timestamp=old)[SIGNATURE_HEADER])
    with pytest.raises(InvalidSignature, match="no secret"):
        await verify(source="social")
    with pytest.raises(InvalidSignature, match="required"):
        await verify(sig=None)


def test_webhook_secrets_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("KCC_WEBHOOK_SECRETS", raising=False)
    monkeypatch.setenv("KCC_WEBHOOK_SECRETS__TELEPHONE", "abc")
    assert WebhookSettings().secrets["telephone"].get_secret_value() == "abc"


# --- limits ----------------------------------------------------------------------------------------


def test_the_rate_limiter_allows_a_burst_then_says_when_to_retry():
    now = [0.0]
    limiter = RateLimiter(RateLimitSettings(per_second=2, burst=3), clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") is None  # per client
    now[0] = 0.5
    assert limiter.take("a") is None


async def test_intake_answers_429_with_retry_after_per_client(monkeypatch):
    monkeypatch.setenv("KCC_INTAKE_RATE_LIMIT__PER_SECOND", "1")
    monkeypatch.setenv("KCC_INTAKE_RATE_LIMIT__BURST", "3")
    app = intake_app(IntakeSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        alice, bob = client_auth(["agent"]), client_auth(["agent"])
        answers = [(await client.get("/v1/citizens/timeline", auth=alice)).status_code for _ in range(4)]
        limited = await client.get("/v1/citizens/timeline", auth=alice)
    assert answers == [422, 422, 422, 429]  # 422: no citizen given; the limit comes first
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # The token subject is the client: both test tokens share "test-client".
    assert alice.token != bob.token


async def test_a_burst_of_malformed_requests_without_a_token_is_limited_too(monkeypatch):
    monkeypatch.setenv("KCC_INTAKE_RATE_LIMIT__PER_SECOND", "1")
    monkeypatch.setenv("KCC_INTAKE_RATE_LIMIT__BURST", "5")
    app = intake_app(IntakeSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        responses = [
            await client.post("/v1/channels/web/submissions", content=b"{not json", headers={"content-type": "application/json"},
                              auth=NO_AUTH)
            for _ in range(8)
        ]
    assert [r.status_code for r in responses] == [401] * 5 + [429] * 3
    assert int(responses[-1].headers["retry-after"]) >= 1


async def test_every_service_refuses_a_body_over_its_limit(monkeypatch):
    monkeypatch.setenv("KCC_ROUTING_MAX_BODY_BYTES", "2048")
    app = routing_app(RoutingSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        declared = await client.post("/v1/classify", json={"text": "x" * 5000})

        async def chunks():
            for _ in range(10):
                yield b"x" * 500

        streamed = await client.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
        small = await client.post("/v1/classify", json={"text": ""})
    assert declared.status_code == 413 and streamed.status_code == 413
    assert small.status_code == 422  # under the limit it reaches the route


def test_the_readme_shows_the_table_as_the_code_has_it(request):
    readme = (request.config.rootpath / "README.md").read_text(encoding="utf-8")
    from kcc_shared.access import markdown_table

    assert markdown_table() in readme, "regenerate the README table with kcc_shared.access.markdown_table()"
