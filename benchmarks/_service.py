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


_DEV_AUTH: dict[str, object] = {}


def dev_auth() -> tuple[dict[str, str], dict[str, str]]:
    """A throw-away signing key for this run: the env that makes a service trust it, and ops headers.

    The services require a bearer token since authentication landed; a benchmark stands in for the
    municipality's identity provider the way the tests do (kcc_shared.devauth)."""
    if not _DEV_AUTH:
        import tempfile
        from pathlib import Path

        from kcc_shared.devauth import DevKeys

        directory = Path(tempfile.mkdtemp(prefix="kcc-bench-auth-"))
        keys = DevKeys.generate()
        keys.save(directory)
        token = keys.token(["ops"], subject="benchmark", ttl_s=24 * 3600)
        _DEV_AUTH.update(env=keys.env(directory), headers={"Authorization": f"Bearer {token}"}, token=token)
    return _DEV_AUTH["env"], _DEV_AUTH["headers"]  # type: ignore[return-value]
