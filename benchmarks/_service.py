"""Starting a service as a real process for a benchmark, and waiting until it is ready."""

import subprocess
import sys
import time

import httpx


def start_service(module: str, port: int, env: dict[str, str], *, ready_within_s: float = 90.0) -> subprocess.Popen:
    """`python -m <module>` with `env`, returned once `/readyz` on `port` answers 200."""
    process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + ready_within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{module} did not become ready within {ready_within_s:.0f} s")
