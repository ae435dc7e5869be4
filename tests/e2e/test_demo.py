"""`make up`'s demo on the real stack: the four services start, the traffic simulator feeds them,
the live summary shows contacts on every channel, and Ctrl-C leaves no process behind."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kcc_shared.contracts import Channel
from kcc_shared.testing import credentials

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "routing", "callback", "metrics")

REPO = Path(__file__).resolve().parents[2]
CHANNELS = ("telephone", "counter", "e-mail", "web", "letter", "social")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


def contacts_today(line: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r"([a-z-]+) (\d+)", line.removeprefix("Contacts today"))}


def test_make_up_shows_the_platform_at_work_and_stops_cleanly(service_env, tmp_path):
    ports = {s: free_port() for s in (*SERVICES, "desktop")}
    for s in SERVICES:
        service_env(s)
    env = {
        **os.environ,
        **{f"KCC_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        "KCC_PLATFORM_MANAGE_STACK": "0",
        "KCC_RELAY_SINK_PORT": str(free_port()),  # the local relay sink, on a port of this test's own
        "KCC_STACK_DIR": str(tmp_path),
        "KCC_DEMO_SPEED_UP": "1200",  # a working day in 36 s; the default is 180 (4 minutes)
        # Few enough contacts that the platform keeps up on a busy 2-core machine with the local
        # store (a Python server): every channel still shows within the simulated morning.
        "KCC_DEMO_INHABITANTS": "8000",
    }
    env.pop("KCC_DEMO", None)  # on by default
    # The services trust the test session's keys (the plugin sets KCC_AUTH_*), so platform.sh mints
    # no development token for the simulator: give it one, as an operator would with real keys.
    env["KCC_TOKEN"] = credentials().token(
        ["agent", "ops", "admin", *(f"integrator:{c.value}" for c in Channel)], subject="simulator", ttl_s=900
    )
    started = time.monotonic()
    platform = subprocess.Popen(
        ["bash", str(REPO / "deploy/local/platform.sh")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(platform.stdout), daemon=True)
    reader.start()
    seen: dict[str, int] = {}
    try:
        while time.monotonic() - started < 240:  # within pytest's timeout, so a failure shows the output
            lines = [line for line in list(output) if line.startswith("Contacts today")]
            if lines:
                seen = contacts_today(lines[-1])
                if all(seen.get(c, 0) > 0 for c in CHANNELS):
                    break
            time.sleep(1)
        print(f"every channel non-zero after {time.monotonic() - started:.0f} s: {seen}")
        text = "".join(output)
        assert all(seen.get(c, 0) > 0 for c in CHANNELS), text[-3000:]
        assert "Telephone        service level" in text and f"http://127.0.0.1:{ports['metrics']}/docs" in text
    finally:
        platform.send_signal(signal.SIGINT)
        platform.wait(timeout=60)
        reader.join(timeout=5)

    text = "".join(output)
    assert platform.returncode == 130, text[-2000:]
    assert "[platform] stopping the simulator" in text and "[platform] stopped" in text
    pids = {m[1]: int(m[2]) for m in re.finditer(r"\[platform\] started (\w+) \(pid (\d+)", text)}
    pids["simulator"] = int(re.search(r"started the traffic simulator \(pid (\d+)", text)[1])
    assert set(pids) == {*SERVICES, "desktop", "simulator"}
    for name, pid in pids.items():
        assert not alive(pid), f"{name} (pid {pid}) still running after Ctrl-C"
