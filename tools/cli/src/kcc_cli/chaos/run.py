"""`make chaos`: the simulator's traffic against N replicas of every service while replicas are
killed with SIGKILL, the broker is stopped for a while once and the store once; then, once the
platform has settled, the ledger check (`kcc_cli.chaos.ledger`). The last line is

    chaos: accepted N, lost N, duplicated N, wrong N, max delay S s

and the exit code is 1 when anything was lost, duplicated or wrong, the delay reached 30 s, or a
running replica's `/readyz` said anything but 200 while a sibling was killed and restarted.
"""

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kcc_cli.chaos import observe, sabotage
from kcc_cli.chaos.balancer import Balancer
from kcc_cli.chaos.fleet import SERVICES, Replica, Stack, fleet, ready
from kcc_cli.chaos.ledger import SimLedger, Verdict, compare
from kcc_cli.chaos.readiness import ReadinessWatch
from kcc_cli.chaos.timeline import Timeline, report
from kcc_shared.devauth import SERVICES as AUTH_SERVICES
from kcc_shared.devauth import DevKeys

SIMULATOR_ROLES = ["agent", "ops", "admin"] + [f"integrator:{c}" for c in ("telephone", "email", "web", "counter", "letter", "social")]
WINDOW_S = 12 * 3600  # the simulator paces a day's 07:00-19:00


def parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(prog="python -m kcc_cli.chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=6.0, help="real minutes of traffic: a working day at 720/minutes times speed (default 6)")
    p.add_argument("--inhabitants", type=int, default=40_000, help="the simulated municipality's size (default 40000: ~380 contacts)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replicas", type=int, default=3, help="processes per service (default 3)")
    p.add_argument("--kill-every", type=float, default=25.0, help="seconds between two kill -9s (default 25)")
    p.add_argument("--restart-after", type=float, default=3.0, help="seconds a killed replica stays down (default 3)")
    p.add_argument("--outage", type=float, default=20.0, help="seconds the broker, and separately the store, are stopped (default 20)")
    p.add_argument("--base-port", type=int, default=int(env.get("KCC_CHAOS_BASE_PORT", 8400)),
                   help="replicas listen on base..base+4N-1, the load balancers on base+90..base+93 (default 8400)")
    p.add_argument("--smtp-port", type=int, default=0, help="intake's SMTP port per replica, counted up from this; 0: any free port (default)")
    p.add_argument("--kafka-port", type=int, default=int(env.get("KCC_KAFKA_PORT", 9092)))
    p.add_argument("--mongo-port", type=int, default=int(env.get("KCC_MONGO_PORT", 27017)))
    p.add_argument("--stack-dir", type=Path, default=None, help="the run's broker and store data, wiped first (default .stack/chaos)")
    p.add_argument("--settle-cap", type=float, default=240.0, help="longest wait for lag and outboxes to drain and the check to hold, s")
    p.add_argument("--max-delay", type=float, default=30.0, help="acceptance to routing must stay below this, s (default 30)")
    p.add_argument("--log-level", default="WARNING", help="the services' log level (default WARNING: 12 processes on a small machine)")
    p.add_argument("--break-outbox", action="store_true",
                   help="disable intake's outbox on purpose during the broker outage (see kcc_cli.chaos.sabotage): the check must fail")
    p.add_argument("--keep", action="store_true", help="leave the broker and the store running afterwards")
    return p


class Chaos:
    def __init__(self, args: argparse.Namespace, repo: Path) -> None:
        self.args, self.repo = args, repo
        self.stack_dir = (args.stack_dir or repo / ".stack/chaos").resolve()
        self.bootstrap = f"127.0.0.1:{args.kafka_port}"
        self.mongo_uri = f"mongodb://127.0.0.1:{args.mongo_port}"
        self.timeline = Timeline()
        self.replicas: list[Replica] = []
        self.balancers: list[Balancer] = []
        self.restarting: set[str] = set()
        self.background: set[asyncio.Task] = set()  # asyncio keeps only weak references to tasks
        self.traffic_over = asyncio.Event()
        self.env: dict[str, str] = {}
        self.simulator_token = ""
        self.ledger_path = self.stack_dir / "ledger.jsonl"
        self.stack: Stack | None = None
        self.simulator: asyncio.subprocess.Process | None = None
        self.readiness = ReadinessWatch(self.replicas, self.restarting)

    # --- set-up -----------------------------------------------------------------------------

    def lb_port(self, service: str) -> int:
        return self.args.base_port + 90 + SERVICES.index(service)

    def lb_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.lb_port(service)}"

    def prepare_env(self) -> dict[str, str]:
        keys = DevKeys.generate()
        keys.save(self.stack_dir / "auth")
        env = {
            **os.environ, **keys.env(self.stack_dir / "auth"),
            "KCC_STACK_DIR": str(self.stack_dir), "KCC_KAFKA_PORT": str(self.args.kafka_port), "KCC_MONGO_PORT": str(self.args.mongo_port),
            "KCC_KAFKA_BOOTSTRAP": self.bootstrap, "KCC_MONGO_URI": self.mongo_uri,
            "KCC_MONGO_MAX_POOL_SIZE": os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "4"),
            "KCC_CONSUMER_LAG_INTERVAL_S": "2", "KCC_LOG_LEVEL": self.args.log_level,
            "KCC_CALLBACK_REGISTRY_URL": self.lb_url("intake"),
        }
        tokens = {s: keys.token([f"service:{s}"], subject=f"service-{s}") for s in AUTH_SERVICES}
        env["KCC_CALLBACK_REGISTRY_TOKEN"] = tokens["callback"]
        self.simulator_token = keys.token(SIMULATOR_ROLES, subject="simulator")
        self.env = env
        return tokens

    async def start_platform(self) -> None:
        if self.stack_dir.exists():
            shutil.rmtree(self.stack_dir)
        self.stack_dir.mkdir(parents=True)
        tokens = self.prepare_env()
        self.stack = Stack(self.repo, self.env)
        self.timeline.note(f"starting the broker on {self.bootstrap} and the store on {self.mongo_uri} (data in {self.stack_dir})")
        await self.stack.arun("up")
        self.replicas[:] = fleet(self.env, tokens, replicas=self.args.replicas, base_port=self.args.base_port, log_dir=self.stack_dir / "logs")
        for n, replica in enumerate(r for r in self.replicas if r.service == "intake"):
            replica.env["KCC_INTAKE_SMTP__PORT"] = str(self.args.smtp_port + n if self.args.smtp_port else 0)
        for service in SERVICES:
            backends = [r.port for r in self.replicas if r.service == service]
            balancer = Balancer(self.lb_port(service), lambda ports=backends: ports)
            await balancer.start()
            self.balancers.append(balancer)
        started = time.monotonic()
        for replica in self.replicas:
            replica.start()
        results = await asyncio.gather(*(ready(r, timeout_s=300) for r in self.replicas))
        if not all(results):
            bad = [r.name for r, ok in zip(self.replicas, results) if not ok]
            raise RuntimeError(f"not ready: {', '.join(bad)}; see {self.stack_dir / 'logs'}")
        self.timeline.note(f"{len(self.replicas)} replicas ready in {time.monotonic() - started:.0f} s "
                           f"(ports {self.replicas[0].port}-{self.replicas[-1].port}, load balancers {self.lb_port('intake')}-{self.lb_port('metrics')})")

    # --- traffic and chaos --------------------------------------------------------------------

    async def simulate(self) -> int:
        speed_up = WINDOW_S / (self.args.minutes * 60)
        env = {**self.env, "KCC_TOKEN": self.simulator_token}
        command = [
            sys.executable, "-m", "kcc_cli", "simulate", "--days", "1", "--workdays-only", "--inhabitants", str(self.args.inhabitants),
            "--speed-up", f"{speed_up:.2f}", "--seed", str(self.args.seed), "--ledger", str(self.ledger_path),
            "--settle-timeout", "20", "--no-progress",
        ] + [arg for s in SERVICES for arg in (f"--{s}-url", self.lb_url(s))]
        self.timeline.note(f"simulator: {self.args.inhabitants:,} inhabitants, x{speed_up:.0f} ({self.args.minutes:g} min of traffic), seed {self.args.seed}")
        with (self.stack_dir / "logs" / "simulate.log").open("wb") as out:
            self.simulator = await asyncio.create_subprocess_exec(*command, env=env, stdout=out, stderr=subprocess.STDOUT)
            code = await self.simulator.wait()
        self.timeline.note(f"simulator finished (exit {code})")
        self.traffic_over.set()
        return code

    async def killer(self) -> None:
        """Kill -9 a random replica every few seconds, of the service killed least so far (so each
        is killed about as often); a service whose siblings are still starting waits its turn."""
        rng = random.Random(self.args.seed)
        await asyncio.sleep(self.args.kill_every / 2)
        while not self.traffic_over.is_set():
            alive = {s: [r for r in self.replicas if r.service == s and r.alive() and r.name not in self.restarting] for s in SERVICES}
            # A sibling always stays: the point is replicas dying under a running service, not the service gone.
            eligible = [s for s in SERVICES if len(alive[s]) >= 2]
            if eligible:
                fewest = min(self.timeline.kills[s] for s in eligible)
                service = rng.choice([s for s in eligible if self.timeline.kills[s] == fewest])
                victim = rng.choice(alive[service])
                pid = victim.process.pid if victim.process else None
                victim.kill9()
                self.timeline.kills[service] += 1
                self.timeline.note(f"kill -9 {victim.name} (pid {pid})")
                self.spawn(self.restart(victim, after=self.args.restart_after))
            try:
                await asyncio.wait_for(self.traffic_over.wait(), self.args.kill_every * rng.uniform(0.7, 1.3))
            except asyncio.TimeoutError:
                pass

    def spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def restart(self, replica: Replica, *, after: float, quiet: bool = False) -> None:
        self.restarting.add(replica.name)
        try:
            await asyncio.sleep(after)
            started = time.monotonic()
            for _ in range(5):  # a replica started while the broker or the store is away may give up
                replica.start()
                if await ready(replica, timeout_s=180):
                    if not quiet:
                        self.timeline.note(f"{replica.name} restarted, ready in {time.monotonic() - started:.0f} s")
                    return
                replica.kill9()
                await asyncio.sleep(3)
            self.timeline.note(f"{replica.name} did not come back; see {replica.logs[-1]}")
        finally:
            self.restarting.discard(replica.name)

    async def outage(self, what: str, *, at: float) -> None:
        """Stop the broker or the store for `--outage` seconds, `at` seconds into the traffic."""
        await asyncio.sleep(at)
        name = {"kafka": "broker", "store": "store"}[what]
        assert self.stack is not None
        self.readiness.outage_began()
        await self.stack.arun(f"{what}-down")
        down = time.monotonic()
        self.timeline.note(f"{name} stopped")
        if what == "kafka" and self.args.break_outbox:
            await asyncio.sleep(min(8.0, self.args.outage / 2))
            await self.break_outbox()
        await asyncio.sleep(max(0.0, self.args.outage - (time.monotonic() - down)))
        self.timeline.note(f"{name} starting again after {time.monotonic() - down:.0f} s")
        await self.stack.arun(f"{what}-up")
        self.readiness.outage_ended()
        self.timeline.note(f"{name} ready again, {time.monotonic() - down:.0f} s after it stopped")

    async def break_outbox(self) -> None:
        intakes = [r for r in self.replicas if r.service == "intake"]
        for replica in intakes:
            replica.kill9()
        forgotten = await sabotage.forget_unpublished(self.mongo_uri)
        self.timeline.note(f"--break-outbox: every intake replica killed and {forgotten} unpublished events forgotten in intake's store")
        for replica in intakes:
            if replica.name not in self.restarting:
                self.spawn(self.restart(replica, after=0.5))

    # --- settling and the check --------------------------------------------------------------

    async def settle_and_check(self) -> Verdict:
        for replica in self.replicas:  # every replica up again before judging
            if not replica.alive() and replica.name not in self.restarting:
                await self.restart(replica, after=0)
        while self.restarting:
            await asyncio.sleep(1)
        deadline = time.monotonic() + self.args.settle_cap
        calm = 0
        urls = [r.url for r in self.replicas]
        while time.monotonic() < deadline and calm < 2:
            backlog = await observe.backlog(urls)
            calm = calm + 1 if backlog["lag"] == 0 and backlog["outbox"] == 0 and backlog["answered"] == len(urls) else 0
            await asyncio.sleep(3)
        self.timeline.note("lag and intake's outbox at 0" if calm >= 2 else "settling cap reached with lag or outbox left")
        ledger = SimLedger.from_lines(self.ledger_path.read_text().splitlines() if self.ledger_path.exists() else [])
        days = {a.day for a in ledger.accepted.values()}
        previous = None
        while True:
            seen = await observe.observe(self.bootstrap, metrics_url=self.lb_url("metrics"), token=self.simulator_token, days=days)
            verdict = compare(ledger, seen)
            counts = (verdict.lost, verdict.duplicated, verdict.wrong, verdict.unknown)
            # Done when clean, or when a second look 15 s later finds the same (nothing is still on its way).
            if verdict.passed(max_delay_s=self.args.max_delay) or counts == previous or time.monotonic() > deadline:
                return verdict
            previous = counts
            await asyncio.sleep(15)

    async def run(self) -> int:
        traffic_s = self.args.minutes * 60
        verdict: Verdict | None = None
        started = time.monotonic()
        try:
            await self.start_platform()
            tasks = [
                asyncio.create_task(self.readiness.run(self.traffic_over)),
                asyncio.create_task(self.killer()),
                asyncio.create_task(self.outage("kafka", at=traffic_s * 0.3)),
                asyncio.create_task(self.outage("store", at=traffic_s * 0.65)),
            ]
            await self.simulate()
            await asyncio.gather(*tasks)
            verdict = await self.settle_and_check()
            letters = await observe.dead_letters(self.bootstrap)
        finally:
            await self.shut_down()
        print(report(self.timeline, verdict, letters, readiness=self.readiness.lines(), duration_s=time.monotonic() - started,
                     logs=self.stack_dir / "logs", ledger=self.ledger_path))
        return 0 if verdict.passed(max_delay_s=self.args.max_delay) and not self.readiness.not_ready else 1

    async def shut_down(self) -> None:
        for balancer in self.balancers:
            await balancer.stop()
        self.stop_processes()

    def stop_processes(self) -> None:
        """Everything this run started: the simulator, the replicas (SIGTERM, then SIGKILL), the stack."""
        if self.simulator and self.simulator.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.simulator.pid, signal.SIGKILL)
        for replica in self.replicas:
            if replica.alive():
                replica.process.terminate()
        deadline = time.monotonic() + 20
        for replica in self.replicas:
            if replica.process and replica.process.poll() is None:
                try:
                    replica.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    replica.kill9()
        if not self.args.keep and self.stack is not None:
            self.stack.run("down")
            self.stack = None

def repo_root() -> Path:
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "deploy/local/stack.sh").exists():
            return folder
    raise SystemExit("run from the repository (deploy/local/stack.sh not found)")


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    chaos = Chaos(args, repo_root())
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(chaos.run())
    except KeyboardInterrupt:
        return 130
    finally:
        chaos.stop_processes()  # also after Ctrl-C or SIGTERM: nothing of the run is left behind
