"""The desktop server: the app at `/`, and `/api/<service>/v1/...` forwarded with the caller's own
token and nothing else. The "service" here is a small real ASGI app that echoes what it got."""

import httpx
import pytest
from fastapi import FastAPI, Request

from kcc_desktop.app import create_app, dev_tokens
from kcc_desktop.settings import DesktopSettings
from kcc_shared.testing import NO_AUTH


def echo_service() -> FastAPI:
    app = FastAPI()

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT"])
    async def echo(path: str, request: Request) -> dict:
        return {
            "host": request.url.hostname, "path": path, "query": request.url.query, "method": request.method,
            "authorization": request.headers.get("authorization"), "cookie": request.headers.get("cookie"),
            "body": (await request.body()).decode(),
        }

    return app


@pytest.fixture
async def desktop():
    settings = DesktopSettings(routing_url="http://routing.test", intake_url="http://intake.test")
    app = create_app(settings, transport=httpx.ASGITransport(app=echo_service()))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desktop", auth=NO_AUTH) as client:
            yield client


async def test_the_app_is_served_with_a_strict_content_security_policy(desktop):
    page = await desktop.get("/")
    assert page.status_code == 200 and '<html lang="nl">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (await desktop.get("/static/desktop.js")).status_code == 200


async def test_calls_are_forwarded_with_the_callers_token_and_nothing_else(desktop):
    answer = await desktop.post(
        "/api/routing/v1/queues/items/c-1/claim?x=1&y=%C3%A9", json={"agent_id": "a"},
        headers={"Authorization": "Bearer abc", "Cookie": "session=secret"},
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "host": "routing.test", "path": "queues/items/c-1/claim", "query": "x=1&y=%C3%A9", "method": "POST",
        "authorization": "Bearer abc", "cookie": None, "body": '{"agent_id":"a"}',
    }


async def test_only_the_services_v1_apis_are_reachable(desktop):
    unknown = await desktop.get("/api/jaeger/v1/traces")
    assert unknown.status_code == 404 and unknown.json()["detail"]["field"] == "service"
    for path in ("/api/routing/metrics", "/api/routing/v1/../metrics", "/api/routing/docs"):
        refused = await desktop.get(path)
        assert refused.status_code == 404, path


async def test_a_service_that_does_not_answer_is_a_502_naming_it():
    app = create_app(DesktopSettings(metrics_url="http://127.0.0.1:9"))  # nothing listens on the discard port
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desktop", auth=NO_AUTH) as client:
            answer = await client.get("/api/metrics/v1/realtime", headers={"Authorization": "Bearer abc"})
    assert answer.status_code == 502 and answer.json()["detail"] == {"field": "service", "reason": "metrics is not reachable (ConnectError)"}


def test_development_tokens_are_offered_per_role_without_the_services_own(tmp_path):
    for name in ("agent", "department-burgerzaken", "integrator-web", "ops", "service-routing"):
        (tmp_path / f"{name}.jwt").write_text(f"token-of-{name}\n")
    assert dev_tokens(tmp_path) == [
        {"role": "agent", "token": "token-of-agent"},
        {"role": "department:burgerzaken", "token": "token-of-department-burgerzaken"},
        {"role": "integrator:web", "token": "token-of-integrator-web"},
        {"role": "ops", "token": "token-of-ops"},
    ]
    assert dev_tokens(None) == [] and dev_tokens(tmp_path / "missing") == []
