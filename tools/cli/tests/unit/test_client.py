"""The one HTTP client: tokens per role from the environment, the signing hook, retries on 503."""

import httpx

from kcc_cli.sim.client import PlatformClient, headers_for, sign, urls_from_env


def test_a_role_gets_its_own_token_else_the_integrators_else_the_common_one():
    env = {"KCC_TOKEN_AGENT": "a", "KCC_TOKEN_INTEGRATOR": "i", "KCC_TOKEN": "all"}
    assert headers_for("agent", env) == {"Authorization": "Bearer a"}
    assert headers_for("integrator_telephone", env) == {"Authorization": "Bearer i"}
    assert headers_for("integrator_telephone", {**env, "KCC_TOKEN_INTEGRATOR_TELEPHONE": "t"}) == {"Authorization": "Bearer t"}
    assert headers_for("ops", env) == {"Authorization": "Bearer all"}
    assert headers_for("ops", {}) == {}


def test_webhooks_are_signed_with_the_sources_secret_and_never_twice_alike():
    from kcc_shared.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

    assert sign("telephone", b"{}", {}) == {}  # no secret configured: unsigned
    env = {"KCC_WEBHOOK_SECRETS": '{"telephone": "s3cret"}'}
    first, again = sign("telephone", b"{}", env), sign("telephone", b"{}", env)
    assert first[SIGNATURE_HEADER] == signature("s3cret", b"{}", int(first[TIMESTAMP_HEADER]))
    assert again[SIGNATURE_HEADER] != first[SIGNATURE_HEADER]
    counter = sign("counter", b"{}", {**env, "KCC_WEBHOOK_SECRETS__COUNTER": "c"})
    assert counter[SIGNATURE_HEADER] == signature("c", b"{}", int(counter[TIMESTAMP_HEADER]))


def test_urls_come_from_flags_then_environment_then_defaults():
    urls = urls_from_env({"KCC_ROUTING_URL": "http://routing:9/"}, metrics="http://m:1")
    assert urls == {"intake": "http://127.0.0.1:8001", "routing": "http://routing:9", "callback": "http://127.0.0.1:8003", "metrics": "http://m:1"}


async def test_every_request_carries_the_roles_token_and_a_503_is_retried():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, headers={"Retry-After": "1"}, json={"detail": "broker away"})
        return httpx.Response(202, json={"contact_id": "c1", "duplicate": False})

    transport = httpx.MockTransport(answer)
    clients = {s: httpx.AsyncClient(transport=transport, base_url=f"http://{s}") for s in ("intake", "routing", "callback", "metrics")}
    client = PlatformClient(clients=clients, env={"KCC_TOKEN_INTEGRATOR_WEB": "web-token", "KCC_TOKEN_AGENT": "agent-token"})
    reply = await client.post_channel("web", "/v1/channels/web/submissions", {"form_id": "f", "subject": "s", "message": "m"})
    assert reply.ok and reply.body["contact_id"] == "c1"
    assert len(seen) == 2
    assert all(r.headers["Authorization"] == "Bearer web-token" for r in seen)
    await client.claim("c1", "agent-1")
    assert seen[-1].headers["Authorization"] == "Bearer agent-token"
    assert seen[-1].url.path == "/v1/queues/items/c1/claim"


async def test_the_live_summary_shows_total_waiting_and_the_four_longest_queues_on_one_line():
    from datetime import date

    from kcc_cli.sim.report import live_summary

    queues = [{"queue": f"q{i}", "waiting": i, "oldest_waiting_s": 60.0 * i} for i in range(7)]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/realtime":
            return httpx.Response(200, json={"at": "2026-11-30T10:00:00Z", "queues": queues, "agents_available": None,
                                             "callbacks_due_today": 3, "callbacks_overdue": 1})
        return httpx.Response(404, json={"detail": []})

    transport = httpx.MockTransport(answer)
    clients = {s: httpx.AsyncClient(transport=transport, base_url=f"http://{s}") for s in ("intake", "routing", "callback", "metrics")}
    screen = await live_summary(PlatformClient(clients=clients), today=date(2026, 11, 30), simulated="10:00", docs={})
    [line] = [row for row in screen.splitlines() if row.startswith("Waiting now")]
    assert line.startswith("Waiting now      21 in all:  q6 6 (oldest 6 min)  q5 5 (oldest 5 min)  q4 4 (oldest 4 min)  q3 3 (oldest 3 min)")
    assert "q2" not in line and line.endswith("agents available –")
    assert "due today 3   overdue 1" in screen
