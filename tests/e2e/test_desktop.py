"""The agent desktop in a real browser: Playwright drives Debian's Chromium against the desktop
server and the four services, served over real HTTP in this process, on the real Kafka and store.

One stack and one browser serve every test of this module (they take ~20 s to start). Each test
opens its own browser context (own sessionStorage, so its own sign-in). The channel systems are
played by plain HTTP posts to intake; everything an agent, a department or a team lead does goes
through the screens. Screenshots of the three screens go to docs/desktop/ (the README shows them;
KCC_DESKTOP_SCREENSHOTS=<dir> puts them elsewhere)."""

import asyncio
import json
import os
import random
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kcc_callback.app import create_app as callback_app
from kcc_callback.calendar import WorkingCalendar
from kcc_callback.settings import CallbackSettings
from kcc_desktop.app import create_app as desktop_app
from kcc_desktop.settings import DesktopSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.runtime import GRACEFUL_SHUTDOWN_S, SHUTDOWN_STEP_TIMEOUT_S
from kcc_shared.testing import credentials, unique
from playwright.async_api import Browser, Page, async_playwright, expect  # a dev dependency: `make install` has it

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("KCC_DESKTOP_SCREENSHOTS") or REPO / "docs" / "desktop")
WAIT_MS = 45_000  # routing and metrics follow Kafka: on a busy 2-core machine a few seconds, rarely more
expect.set_options(timeout=WAIT_MS // 3)  # Playwright's 5 s is short for a screen fed by Kafka on a busy machine
SERVICES = ("intake", "routing", "callback", "metrics")
TEARDOWN_STEP_S = 30.0


def chromium() -> str:
    for name in (os.environ.get("KCC_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    pytest.fail("no Chromium on the PATH: `make install` installs Debian's chromium", pytrace=False)


def token(*roles: str, subject: str) -> str:
    return credentials().token(list(roles), subject=subject, ttl_s=3600)


class NextWorkingMorning:
    """Callback's clock: 08:00 on the next working day. A call-back booked now gets the first free
    slot from then on, so the department's "due today" holds it whatever hour the test runs."""

    def __init__(self) -> None:
        calendar = WorkingCalendar(timezone="Europe/Amsterdam")
        day = calendar.next_working_day(calendar.local(datetime.now(UTC)).date())
        self.now = calendar.at(day, time(8, 0))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Stack:
    desktop: str
    urls: dict[str, str]
    browser: Browser
    http: httpx.AsyncClient
    contexts: list[Any] = field(default_factory=list)

    async def page(self, *, signed_in_as: str | None = None) -> Page:
        # bypass_csp: the desktop's Content-Security-Policy would (rightly) refuse the injected axe-core.
        context = await self.browser.new_context(
            viewport={"width": 1400, "height": 1000}, locale="nl-NL", timezone_id="Europe/Amsterdam", bypass_csp=True
        )
        # Every screen waits on the services; on a shared, loaded machine a store write can take seconds.
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = await context.new_page()
        if signed_in_as is not None:
            await page.goto(f"{self.desktop}/#/aanmelden")
            await page.get_by_label("Ontwikkeltoken (JWT)").fill(signed_in_as)
            await page.get_by_role("button", name="Aanmelden", exact=True).click()
        return page

    async def post(self, service: str, path: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = await self.http.post(f"{self.urls[service]}{path}", json=body, **kwargs)
        assert response.status_code in (200, 202), response.text
        return response.json()


async def serve(app: FastAPI) -> tuple[str, uvicorn.Server, asyncio.Task]:
    """Run an app on a free loopback port with uvicorn (lifespan included); its base URL once it listens."""
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    ))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    if hasattr(app.state, "infra"):
        await app.state.infra.wait_until_ready()
    return f"http://127.0.0.1:{port}", server, task


@pytest.fixture(scope="module")
async def stack(real_stack: dict[str, str]) -> AsyncIterator[Stack]:
    env = pytest.MonkeyPatch()
    # As `service_env` does per test: own databases and consumer groups, reading from now on.
    env.setenv("KCC_CONSUMER_AUTO_OFFSET_RESET", "latest")
    env.setenv("KCC_KAFKA_PUBLISH_TIMEOUT_S", "5")
    env.setenv("KCC_CONSUMER_BACKOFF_INITIAL_S", "0.05")
    env.setenv("KCC_CONSUMER_BACKOFF_MAX_S", "0.5")
    env.setenv("KCC_MONGO_MAX_POOL_SIZE", os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "2"))
    for service in SERVICES:
        prefix = f"KCC_{service.upper()}_"
        env.setenv(f"{prefix}MONGO_DATABASE", unique(f"test_desktop_{service}").replace("-", "_"))
        env.setenv(f"{prefix}GROUP_ID", unique(f"test-desktop-{service}"))
        env.setenv(f"{prefix}STARTUP_TIMEOUT_S", "30")
    env.setenv("KCC_INTAKE_SMTP__PORT", "0")
    servers: list[tuple[uvicorn.Server, asyncio.Task]] = []
    urls: dict[str, str] = {}
    playwright = None
    try:
        urls["intake"], *running = await serve(intake_app(IntakeSettings()))
        servers.append(tuple(running))
        # The callback service resolves the phone number of a call-back at intake's registry.
        env.setenv("KCC_CALLBACK_REGISTRY_URL", urls["intake"])
        for name, app in (
            ("routing", routing_app(RoutingSettings())),
            ("callback", callback_app(CallbackSettings(), clock=NextWorkingMorning())),
            ("metrics", metrics_app(MetricsSettings())),
        ):
            urls[name], *running = await serve(app)
            servers.append(tuple(running))
        desktop = desktop_app(DesktopSettings(**{f"{s}_url": u for s, u in urls.items()}))
        desktop_url, *running = await serve(desktop)
        servers.append(tuple(running))
        playwright = await async_playwright().start()
        # Root in CI has no user namespaces for Chromium's sandbox.
        browser = await playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        async with httpx.AsyncClient(timeout=30) as http:
            stack = Stack(desktop=desktop_url, urls=urls, browser=browser, http=http)
            yield stack
            for context in stack.contexts:
                await asyncio.wait_for(context.close(), TEARDOWN_STEP_S)
        await asyncio.wait_for(browser.close(), TEARDOWN_STEP_S)
    finally:
        # Each step bounded, and every server stopped even when a step before it failed: a
        # teardown that hangs would leave these services running in the session's loop,
        # consuming beside the next tests (seen in CI). The first failure is raised at the end.
        steps = [playwright.stop()] if playwright is not None else []
        for server, task in reversed(servers):
            server.should_exit = True
            steps.append(task)
        failures = []
        for step in steps:
            try:
                await asyncio.wait_for(step, TEARDOWN_STEP_S + GRACEFUL_SHUTDOWN_S + 2 * SHUTDOWN_STEP_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - raised below, after the other steps
                failures.append(exc)
        env.undo()
        if failures:
            raise failures[0]


async def assert_accessible(page: Page, screen: str) -> None:
    """axe-core (WCAG 2.0/2.1 A and AA rules) finds nothing serious or critical on the page as it is now."""
    assert AXE.is_file(), f"{AXE} missing: `make install` runs deploy/local/ensure-frontend.sh"
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{screen}: {json.dumps(bad, indent=1)}"
    assert result["passes"], f"{screen}: axe ran no rule"  # the scan really ran


async def screenshot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    data = await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def dutch_mobile() -> str:
    # 061…: a mobile range that is always valid (intake drops a caller id it cannot parse, and a
    # contact without a number cannot get a call-back).
    return f"061{random.randint(0, 9_999_999):07d}"


async def claim_in_browser(page: Page, contact_id: str) -> None:
    row = page.locator(f'tr[data-contact="{contact_id}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await row.get_by_role("button", name="Oppakken").click()
    await expect(page.locator("#lease")).to_be_visible()


async def web_contact(stack: Stack, *, email: str, subject: str) -> str:
    posted = await stack.post("intake", "/v1/channels/web/submissions", {
        "form_id": "contactformulier", "submission_id": unique("web"), "subject": subject,
        "message": "Mijn paspoort is verlopen. Hoe vraag ik een nieuw paspoort aan en wat kost het?",
        "submitted_at": datetime.now(UTC).isoformat(), "email": email,
    })
    return posted["contact_id"]


async def call(stack: Stack, *, caller: str) -> str:
    posted = await stack.post("intake", "/v1/channels/telephone/events", {
        "event": "offered", "call_id": unique("call"), "at": datetime.now(UTC).isoformat(),
        "dialled_number": "14050", "caller_number": caller,
    })
    return posted["contact_id"]


async def eventually(fetch, done, *, timeout: float = WAIT_MS / 1000):
    deadline = asyncio.get_running_loop().time() + timeout
    value = await fetch()
    while not done(value) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.3)
        value = await fetch()
    return value


# --- the tests --------------------------------------------------------------------------------


async def test_an_agent_claims_a_web_contact_searches_the_kennisbank_resolves_it_and_metrics_counts_it(stack):
    email = f"{unique('inwoner')}@example.nl"
    subject = f"Paspoort verlopen {unique('w')}"
    contact_id = await web_contact(stack, email=email, subject=subject)
    agent = unique("agent")
    page = await stack.page(signed_in_as=token("agent", subject=agent))
    await expect(page.get_by_role("heading", name="Agent", exact=True)).to_be_visible()

    await page.get_by_label("Status", exact=True).select_option("available")
    await page.get_by_role("button", name="Status doorgeven").click()
    await expect(page.get_by_text("Je status is beschikbaar")).to_be_visible()

    await claim_in_browser(page, contact_id)
    work = page.locator("section", has=page.locator("#werk-kop"))
    await expect(work.get_by_text(subject)).to_be_visible()
    # Classification suggestions with their confidence, from routing's classifier.
    await expect(work.get_by_text("Zekerheid van de beste suggestie")).to_be_visible(timeout=WAIT_MS)
    suggestions = work.locator("ol > li")
    assert await suggestions.count() >= 1 and "%" in await suggestions.first.inner_text()

    await page.get_by_label("Zoek in de kennisbank").fill("paspoort kwijt")
    await page.get_by_role("button", name="Zoeken").click()
    hits = page.locator("#kennisbank-resultaten > li")
    await expect(hits.first).to_be_visible()
    assert "paspoort" in (await hits.first.inner_text()).lower()

    await page.get_by_label("E-mailadres").fill(email)
    await page.get_by_role("button", name="Tijdlijn tonen").click()
    await expect(page.locator("#tijdlijn")).to_contain_text(subject)

    await assert_accessible(page, "agent")
    await screenshot(page, "agent")

    # Metrics counts the resolution. Its database is this module's, but the broker is shared: anything
    # else resolving web contacts meanwhile counts too, so the test reads the figures before and after.
    day = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()

    async def resolved_in_kcc() -> dict[str, float]:
        response = await stack.http.get(f"{stack.urls['metrics']}/v1/service-norms", params={"from": day, "to": day, "channel": "web"})
        assert response.status_code == 200, response.text
        counts = next((k["counts"] for k in response.json()["kpis"] if k["name"] == "resolved_in_kcc"), {})
        return {"resolved": counts.get("resolved", 0), "answered_in_kcc": counts.get("answered_in_kcc", 0)}

    before = await resolved_in_kcc()
    await page.get_by_role("button", name="Contact afronden").click()
    await expect(page.locator("#afgerond")).to_contain_text(f"Contact {contact_id} afgerond: Beantwoord door het KCC")
    await expect(page.locator(f'tr[data-contact="{contact_id}"]')).to_have_count(0)
    after = await eventually(resolved_in_kcc, lambda c: c["answered_in_kcc"] > before["answered_in_kcc"])
    assert after["answered_in_kcc"] >= before["answered_in_kcc"] + 1 and after["resolved"] >= before["resolved"] + 1, (before, after)


async def test_a_telephone_contact_transferred_to_a_department_with_nobody_present_becomes_its_call_back(stack):
    contact_id = await call(stack, caller=dutch_mobile())
    page = await stack.page(signed_in_as=token("agent", subject=unique("agent")))
    await claim_in_browser(page, contact_id)

    await page.get_by_label("Afdeling", exact=True).select_option("burgerzaken")
    reach = page.locator("#bereikbaarheid")
    await expect(reach).to_contain_text("Niet bereikbaar")  # nobody reported presence (and maybe closed)
    await expect(page.locator("#vrije-momenten > li").first).to_contain_text("plaatsen vrij")
    await page.get_by_role("button", name="Overdragen aan afdeling").click()
    # The agent's wrap-up follows the decision: the contact is closed as handed over for a call-back.
    await expect(page.locator("#afgerond")).to_contain_text(f"Contact {contact_id} afgerond: Terugbelafspraak")
    await expect(page.locator("#afgerond")).to_contain_text("not reachable now")  # nobody present, or closed

    staff = unique("medewerker")
    department = await stack.page(signed_in_as=token("department:burgerzaken", subject=staff))
    await expect(department.get_by_role("heading", name="Afdeling", exact=True)).to_be_visible()
    row = department.locator(f'#terugbellen tr[data-contact="{contact_id}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_contain_text("Ingepland")
    handed = department.locator(f'#doorgestuurd tr[data-contact="{contact_id}"]')
    await expect(handed).to_contain_text("Terugbelafspraak")

    await row.get_by_role("button", name="Oppakken").click()
    await expect(row).to_contain_text(staff)
    await row.get_by_role("combobox").select_option("no_answer")
    await row.get_by_role("button", name="Poging vastleggen").click()
    await expect(row).to_contain_text("Poging gedaan")
    await assert_accessible(department, "afdeling")
    await screenshot(department, "afdeling")
    await row.get_by_role("combobox").select_option("reached")
    await row.get_by_role("button", name="Poging vastleggen").click()
    await row.get_by_role("button", name="Afronden").click()
    await expect(row).to_have_count(0)  # completed: no longer due


async def test_a_department_token_cannot_see_another_department_s_call_backs(stack):
    # A call-back for burgerzaken, made through the APIs as an agent would.
    contact_id = await call(stack, caller=dutch_mobile())
    agent = unique("agent")
    as_agent = {"Authorization": f"Bearer {token('agent', subject=agent)}"}
    queued = lambda: stack.http.get(f"{stack.urls['routing']}/v1/queues", params={"channel": "telephone"}, headers=as_agent)  # noqa: E731
    await eventually(queued, lambda r: contact_id in r.text)
    await stack.post("routing", f"/v1/queues/items/{contact_id}/claim", {"agent_id": agent}, headers=as_agent)
    routed = await stack.post("routing", f"/v1/contacts/{contact_id}/transfers", {"department_id": "burgerzaken"}, headers=as_agent)
    assert routed["decision"] == "callback", routed
    due = lambda: stack.http.get(f"{stack.urls['callback']}/v1/departments/burgerzaken/callbacks/due-today", headers=as_agent)  # noqa: E731
    callback_id = next(c["callback_id"] for c in (await eventually(due, lambda r: contact_id in r.text)).json() if c["contact_id"] == contact_id)

    page = await stack.page(signed_in_as=token("department:belastingen", subject=unique("medewerker")))
    await expect(page.get_by_role("heading", name="Afdeling", exact=True)).to_be_visible()
    await expect(page.get_by_role("combobox", name="Afdeling")).to_have_text("belastingen")
    await expect(page.get_by_text("Bijgewerkt om")).to_be_visible(timeout=WAIT_MS)
    assert await page.locator(f'[data-contact="{contact_id}"]').count() == 0
    assert callback_id not in await page.content()
    # Asking for burgerzaken's list or call-back with this browser's token: refused, nothing shown.
    answers = await page.evaluate(
        """async ([id]) => {
            const auth = {Authorization: 'Bearer ' + sessionStorage.getItem('kcc.desktop.token')};
            const list = await fetch('/api/callback/v1/departments/burgerzaken/callbacks/due-today', {headers: auth});
            const one = await fetch('/api/callback/v1/callbacks/' + id, {headers: auth});
            return [list.status, one.status, await one.text()];
        }""",
        [callback_id],
    )
    assert answers[:2] == [403, 404] and contact_id not in answers[2]


async def test_the_wallboard_shows_the_live_figures_and_refreshes_without_reloading(stack):
    page = await stack.page(signed_in_as=token("ops", subject=unique("teamleider")))
    await expect(page.get_by_role("heading", name="Wallboard")).to_be_visible()
    available = page.locator("#tegel-agenten .value")
    await expect(available).to_have_text(re.compile(r"^\d+$"), timeout=WAIT_MS)
    before = int(await available.inner_text())
    for tile in ("servicelevel", "wachtend", "langste", "te-laat", "opgelost"):
        await expect(page.locator(f"#tegel-{tile} .value")).not_to_be_empty()

    # An agent signs in on another desktop: the open wallboard counts one more available agent.
    agent = unique("agent")
    response = await stack.http.put(
        f"{stack.urls['routing']}/v1/agents/{agent}/status", json={"status": "available"},
        headers={"Authorization": f"Bearer {token('agent', subject=agent)}"},
    )
    assert response.status_code == 200, response.text
    await expect(available).to_have_text(str(before + 1), timeout=WAIT_MS)
    await assert_accessible(page, "wallboard")
    await screenshot(page, "wallboard")


async def test_ops_reads_the_access_log_of_the_timeline_look_ups_the_agent_made(stack):
    email = f"{unique('inwoner')}@example.nl"
    phone = dutch_mobile()
    contact_id = await web_contact(stack, email=email, subject=f"Verhuizing {unique('w')}")
    agent = unique("agent")
    page = await stack.page(signed_in_as=token("agent", subject=agent))
    await claim_in_browser(page, contact_id)
    for label, value in (("E-mailadres", email), ("Telefoonnummer", phone)):
        await page.get_by_label("E-mailadres").fill("")
        await page.get_by_label(label).fill(value)
        await page.get_by_label("Reden van inzage").fill(f"controle adres {label}")
        await page.get_by_role("button", name="Tijdlijn tonen").click()
        await expect(page.get_by_text("Geen contacten gevonden" if label == "Telefoonnummer" else "1 contact(en)")).to_be_visible()
    # An agent may look at timelines, not at the log of those looks.
    assert await page.evaluate(
        "async () => (await fetch('/api/intake/v1/access-log', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('kcc.desktop.token')}})).status"
    ) == 403

    ops = await stack.page(signed_in_as=token("ops", subject=unique("ops")))
    await ops.get_by_role("link", name="Protocollering").click()
    await ops.get_by_label("Alleen van medewerker (token-subject)").fill(agent)
    await ops.get_by_role("button", name="Zoeken").click()
    rows = ops.locator("#inzages tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("controle adres Telefoonnummer")
    await expect(rows.nth(0)).to_contain_text(f"phone {'*' * 10}{phone[-2:]}")
    await expect(rows.nth(1)).to_contain_text("controle adres E-mailadres")
    await expect(rows.nth(1)).to_contain_text(f"email {email[0]}***@example.nl")
    assert email not in await ops.content()
    await assert_accessible(ops, "protocollering")


async def test_a_missing_or_expired_token_shows_a_clear_page(stack):
    page = await stack.page()
    await page.goto(f"{stack.desktop}/#/agent")
    await expect(page.get_by_role("heading", name="Niet aangemeld")).to_be_visible()
    await assert_accessible(page, "niet aangemeld")
    expired = credentials().token(["agent"], subject=unique("agent"), ttl_s=-60)
    await page.goto(f"{stack.desktop}/#/aanmelden")
    await page.get_by_label("Ontwikkeltoken (JWT)").fill(expired)
    await page.get_by_role("button", name="Aanmelden", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("verlopen")
    await assert_accessible(page, "aanmelden")
    # A token the services refuse (signed by another key) ends the session with its own page.
    forged = token("agent", subject="x")[:-4] + "AAAA"
    await page.get_by_label("Ontwikkeltoken (JWT)").fill(forged)
    await page.get_by_role("button", name="Aanmelden", exact=True).click()
    await expect(page.get_by_role("heading", name="Sessie verlopen")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_text("De services weigeren je token")).to_be_visible()
