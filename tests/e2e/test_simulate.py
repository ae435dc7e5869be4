"""`kcc simulate` for one simulated working day on the real stack (the four services in-process,
real Kafka and store): it completes, its final report is the metrics API's for that period, and
those figures are the traffic the simulator sent."""

import io
import json
import random
import time
from argparse import Namespace
from contextlib import AsyncExitStack
from datetime import UTC, date, timedelta

import pytest

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_cli.sim.client import PlatformClient
from kcc_cli.sim.model import TrafficConfig, is_working_day, plan_day
from kcc_cli.sim.report import kpi
from kcc_cli.sim.runner import Pacer
from kcc_cli.simulate import simulate
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.e2e

# The day's 07:00-19:00 in 72 s. At x900 (48 s) a slow CI machine left the simulator 37 s behind
# the services' clock, 9 simulated hours: every call-back was then booked for the next day and
# none was due in the back-offices' rounds. Each real second behind is 10 simulated minutes here.
SPEED_UP = 600.0
INHABITANTS, SEED = 10_000, 7


CHANNELS = {"telephone", "counter", "email", "web", "letter", "social"}


def future_working_day() -> date:
    """A working day of our own, after every department joined the KCC (2013) and in the future,
    so no deadline has passed yet and the figures cannot change while we compare them. A town of
    10,000 sends about one social message a day, so we take a day whose (seeded) plan has
    traffic on every channel."""
    day = date(2040, 1, 1) + timedelta(days=random.randrange(50 * 365))
    while not is_working_day(day) or {
        channel for channel, n in plan_day(TrafficConfig(start=day, inhabitants=INHABITANTS, seed=SEED), 0).contacts().items() if n
    } != CHANNELS:
        day += timedelta(days=1)
    return day


async def test_one_simulated_working_day_reports_the_metrics_apis_figures_for_the_traffic_sent(service_env, tmp_path, monkeypatch):
    for service in ("intake", "routing", "callback", "metrics"):
        service_env(service)
    # Routing runs on the simulated clock below, where the agents' heartbeat (every 5 real minutes)
    # never comes in time, and where every real second the platform takes to answer counts 600
    # times over: a 12-hour lease (72 real seconds) covers every call and visit, however busy
    # the store. (With 2 hours, 8 real seconds at x900, a busy machine let a few leases lapse.)
    monkeypatch.setenv("KCC_ROUTING_LEASE_S", "43200")
    day = future_working_day()
    # Routing and callback run on the simulated clock, as they would on that day: opening hours,
    # presence, resolutions and call-back bookings all fall on the simulated day.
    pacer = Pacer(day, SPEED_UP)

    def clock():
        return pacer.now().astimezone(UTC)

    apps = {
        "intake": intake_app(IntakeSettings()),
        "routing": routing_app(RoutingSettings(), clock=clock),
        "callback": callback_app(CallbackSettings(), clock=clock),
        "metrics": metrics_app(MetricsSettings()),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}
        report_file = tmp_path / "report.json"
        print(f"report in {report_file}")
        args = Namespace(
            start=day, days=1, inhabitants=INHABITANTS, speed_up=SPEED_UP, staffing=1.0, seed=SEED, run_id=unique("e2e"),
            workdays_only=False, back_office_away=0.7, json=report_file, settle_timeout=45.0, no_progress=True,
        )
        out = io.StringIO()
        started = time.monotonic()
        pacer.started = started
        code = await simulate(args, PlatformClient(clients=clients), out=out, pacer=pacer)
        print(out.getvalue())
        print(f"simulated day {day} in {time.monotonic() - started:.1f} s")
        assert code == 0, out.getvalue()
        result = json.loads(report_file.read_text())
        ledger = result["ledger"]

        # The final report is what the metrics API serves for the period.
        iso = day.isoformat()
        fresh = (await clients["metrics"].get("/v1/service-norms", params={"from": iso, "to": iso})).json()
        assert result["service_norms"] == fresh
        daily = (await clients["metrics"].get("/v1/counts/daily", params={"day": iso})).json()
        assert result["counts"] == {iso: daily["received"]}

    # ... and its figures are those of the traffic the simulator sent.
    sent = {key.split("|")[1]: n for key, n in ledger["received"].items() if key.startswith(iso)}
    assert daily["received"] == sent
    assert set(sent) == CHANNELS and min(sent.values()) > 0

    report = result["service_norms"]
    calls = {key.split("|")[1]: n for key, n in ledger["calls"].items()}
    offered = kpi(report, "offered", "telephone")["counts"]
    assert offered == {"offered": calls["offered"], "answered": calls["answered"], "abandoned": calls.get("abandoned", 0)}
    level = kpi(report, "service_level_abandoned_short_met", "telephone")["counts"]
    waits = ledger["waits"][iso]
    threshold = level["threshold_s"]
    assert level["answered_within"] == sum(1 for outcome, w in waits if outcome == "answered" and w <= threshold)
    assert level["abandoned_within"] == sum(1 for outcome, w in waits if outcome == "abandoned" and w <= threshold)
    handle = kpi(report, "average_handle_time", "telephone")["counts"]
    assert handle["ended"] == calls["ended"]
    assert handle["handle_s_total"] == pytest.approx(ledger["handle_s"][iso], abs=0.5)
    assert kpi(report, "transfers_per_call", "telephone")["counts"]["transfers"] == calls.get("transferred", 0)

    counter = {key.split("|")[1]: n for key, n in ledger["counter"].items()}
    for kind in ("walk_in", "appointment"):
        counts = kpi(report, f"waiting_within_norm_{kind}", "counter")["counts"]
        assert counts["called"] == counter.get(f"called_{kind}", 0)
        assert counts["left_uncalled"] == counter.get(f"left_{kind}", 0)
        limit = counts["limit_min"]
        assert counts["within"] == sum(1 for k, w in ledger["counter_waits"][iso] if k == kind and w <= limit)

    resolved = {key.split("|")[1]: n for key, n in ledger["resolved"].items() if key.startswith(iso)}
    resolution = kpi(report, "resolved_in_kcc", "all")["counts"]
    assert resolution == {"resolved": sum(resolved.values()), "answered_in_kcc": resolved["answered_in_kcc"]}

    # The platform was worked as a contact centre works it: agents claimed and resolved in
    # routing's queues and reported their status, back-offices reported presence, hand-offs were decided by routing, and the
    # call-backs it booked were attempted through the callback API.
    assert ledger["claims"]["claimed"] >= sum(resolved.values()) > 0
    assert ledger["presence_reports"] > 0
    assert ledger["agent_status_reports"] > 0
    decisions = ledger["decisions"]
    # Back-offices are often away in this run (back_office_away=0.7), so some hand-offs become call-backs.
    assert decisions.get("callback", 0) > 0, decisions
    promises = kpi(report, "promises_kept", "callback")["counts"]
    assert promises["kept"] + promises["broken"] + promises["pending"] == decisions["callback"]
    attempts = sum(n for k, n in ledger["callbacks"].items() if k.startswith("attempt:"))
    assert attempts > 0
    assert promises["kept"] + promises["broken"] == ledger["callbacks"].get("completed", 0) + ledger["callbacks"].get("failed", 0)
    assert not ledger["errors"], ledger["errors"]
