"""The real parts as OS processes: the broker and the store (deploy/local/stack.sh), and N
replicas of each service (`python -m kcc_<service>`, as `make up` starts one), each on its own
port, started, killed with SIGKILL and started again."""

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("intake", "routing", "callback", "metrics")


class Stack:
    """deploy/local/stack.sh on the chaos run's own data directory."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self._script, self._env = repo / "deploy/local/stack.sh", env

    def run(self, command: str) -> None:
        subprocess.run([str(self._script), command], env=self._env, check=True, stdout=subprocess.DEVNULL)

    async def arun(self, command: str) -> None:
        process = await asyncio.create_subprocess_exec(str(self._script), command, env=self._env, stdout=subprocess.DEVNULL)
        if await process.wait():
            raise RuntimeError(f"stack.sh {command} failed")


@dataclass
class Replica:
    service: str
    index: int
    port: int
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = self.log_dir / f"{self.name}.{self.starts}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            # Own session: a Ctrl-C on the chaos run reaches the run, which stops the replicas.
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"kcc_{self.service}"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def kill9(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, grace_s: float = 15.0) -> None:
        if not self.process or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill9()

    def alive(self) -> bool:
        return bool(self.process) and self.process.poll() is None


async def ready(replica: Replica, *, timeout_s: float) -> bool:
    """Poll `/readyz` until 200 (False when the process died or the time ran out)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=3) as client:
        while time.monotonic() < deadline:
            if not replica.alive():
                return False
            try:
                if (await client.get(f"{replica.url}/readyz")).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    return False


def replica_env(base: dict[str, str], *, service: str, port: int, service_token: str) -> dict[str, str]:
    """One replica's environment: the shared one plus its own port and service token."""
    env = {**base, f"KCC_{service.upper()}_PORT": str(port), "KCC_AUTH_SERVICE_TOKEN": service_token}
    return env


def fleet(base_env: dict[str, str], tokens: dict[str, str], *, replicas: int, base_port: int, log_dir: Path) -> list[Replica]:
    """`replicas` of each service on ports base_port, base_port+1, ... (service by service)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = []
    port = base_port
    for service in SERVICES:
        for index in range(replicas):
            env = replica_env(base_env, service=service, port=port, service_token=tokens[service])
            out.append(Replica(service, index, port, env, log_dir))
            port += 1
    return out
