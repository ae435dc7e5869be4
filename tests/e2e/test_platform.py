"""`make up`'s script on the real stack: four real service processes become ready, a web
contact shows up in the metrics endpoint, and Ctrl-C leaves no process behind."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from kcc_shared.testing import credentials, unique_past_day

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "callback", "metrics")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_platform_script_runs_the_services_and_stops_them_all(service_env, tmp_path):
    ports = {s: free_port() for s in (*SERVICES, "desktop")}
    for s in SERVICES:
        service_env(s)
    env = {
        **os.environ,
        **{f"KCC_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        "KCC_PLATFORM_MANAGE_STACK": "0",
        "KCC_RELAY_SINK_PORT": str(free_port()),  # the local relay sink, on a port of this test's own
        "KCC_DEMO": "0",  # the demo has its own test (test_demo.py)
        "KCC_STACK_DIR": str(tmp_path),
        "KCC_LOG_JSON": "true",
    }
    started = time.monotonic()
    platform = subprocess.Popen(
        ["bash", str(REPO / "deploy/local/platform.sh")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output, pids, sink_pid = [], {}, None
    try:
        for line in platform.stdout:
            output.append(line)
            if m := re.match(r"\[platform\] started (\w+) \(pid (\d+)", line):
                pids[m[1]] = int(m[2])
            if m := re.match(r"\[platform\] started the relay sink \(pid (\d+)", line):
                sink_pid = int(m[1])
            if "Contact.STAD is running" in line or time.monotonic() - started > 180:
                break
        ready_after = time.monotonic() - started
        assert "Contact.STAD is running" in "".join(output), "".join(output)
        assert set(pids) == {*SERVICES, "desktop"}
        print(f"all four services and the desktop ready after {ready_after:.1f} s")
        desktop = f"http://127.0.0.1:{ports['desktop']}"
        page = httpx.get(f"{desktop}/")
        assert page.status_code == 200 and '<html lang="nl">' in page.text
        # The desktop forwards to the services, with the caller's token and nothing else.
        ops = credentials().token(["ops"], subject="platform-test")
        realtime = httpx.get(f"{desktop}/api/metrics/v1/realtime", headers={"Authorization": f"Bearer {ops}"})
        assert realtime.status_code == 200 and "agents_available" in realtime.json()
        anonymous = httpx.get(f"{desktop}/api/metrics/v1/realtime", headers={"Authorization": "Bearer nope"})
        assert anonymous.status_code == 401

        base = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        for s in SERVICES:
            assert httpx.get(f"{base[s]}/readyz").json()["status"] == "ready"
            assert "kcc_http_request_duration_seconds" in httpx.get(f"{base[s]}/metrics").text
            assert httpx.get(f"{base[s]}/openapi.json").json()["info"]["title"] == f"Contact.STAD {s}"

        # Fresh consumer groups replay the topics' history, so count on a day of our own.
        day = unique_past_day().isoformat()
        url = f"{base['metrics']}/v1/counts/daily"
        counts = lambda: httpx.get(url, params={"day": day}).json()["received"].get("web", 0)  # noqa: E731
        before = counts()
        assert before == 0
        posted = time.monotonic()
        response = httpx.post(
            f"{base['intake']}/v1/channels/web/submissions",
            json={
                "form_id": "contactformulier",
                "subject": "Parkeervergunning",
                "message": "Hoe vraag ik een parkeervergunning aan?",
                "submitted_at": f"{day}T14:30:00+01:00",
            },
        )
        assert response.status_code == 202, response.text
        while counts() == before and time.monotonic() - posted < 10:
            time.sleep(0.1)
        assert counts() == before + 1, f"contact of {day} not counted within 10 s"
        print(f"contact visible in metrics after {time.monotonic() - posted:.2f} s")

        # JSON logs of two processes carry the same trace id for this contact.
        contact_id = response.json()["contact_id"]
        accepted = _log_entry(tmp_path / "logs" / "intake.log", "contact accepted", contact_id)
        routed = _log_entry(tmp_path / "logs" / "routing.log", "contact routed", contact_id)
        assert re.fullmatch(r"[0-9a-f]{32}", accepted["trace_id"])
        assert routed["trace_id"] == accepted["trace_id"]
        assert routed["span_id"] != accepted["span_id"]
    finally:
        platform.send_signal(signal.SIGINT)
        rest, _ = platform.communicate(timeout=60)
        output.append(rest)

    assert platform.returncode == 130, "".join(output)
    assert "[platform] stopped" in "".join(output)
    for service, pid in pids.items():
        assert not _alive(pid), f"{service} (pid {pid}) still running after Ctrl-C"
    assert sink_pid is not None and not _alive(sink_pid), "the relay sink did not start, or still runs after Ctrl-C"


def _log_entry(path: Path, message: str, contact_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry["message"] == message and entry.get("contact_id") == contact_id:
                return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"no '{message}' for {contact_id} in {path}")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") == -1
