"""`kcc simulate`: realistic traffic for a municipality's contact centre over a simulated
period, at a chosen speed-up, through the platform's public HTTP APIs only; then the period's
service-norm report from the metrics API. `--demo` loops working days and shows a live summary
(what `make up` runs).

Time: every channel payload carries the simulated moment; days are real calendar dates (see
`kcc_cli.sim.runner` for how simulated time maps to timestamps).
"""

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kcc_cli.sim import model
from kcc_cli.sim.client import PlatformClient, urls_from_env
from kcc_cli.sim.report import format_report, live_summary, settle
from kcc_cli.sim.runner import Ledger, Pacer, Runner, show_progress


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate", help="drive the platform with realistic municipal traffic, then report the service norms",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first simulated day (YYYY-MM-DD; default today, Europe/Amsterdam)")
    p.add_argument("--days", type=int, default=None, help="number of simulated days (default 1; with --demo: until stopped)")
    p.add_argument("--inhabitants", type=int, default=150_000, help="size of the municipality; volumes scale with it (default 150000)")
    p.add_argument("--speed-up", type=float, default=60.0, help="simulated seconds per real second (default 60: a day's 07:00-19:00 in 12 min)")
    p.add_argument("--staffing", type=float, default=1.0, help="staff on duty relative to the rota planned for 80%% in 20 s (default 1.0)")
    p.add_argument("--back-office-away", type=float, default=0.15, help="chance a back-office employee is away in a half hour (default 0.15); nobody present means a call-back instead of a warm transfer")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same traffic (default 1)")
    p.add_argument("--run-id", default=None, help="tag in every message id (default: a fresh one, so a rerun is new traffic, not duplicates)")
    p.add_argument("--workdays-only", action="store_true", help="treat every date as a working day (weekends and holidays too)")
    p.add_argument("--json", type=Path, default=None, help="also write the report and the simulator's ledger as JSON here")
    p.add_argument("--ledger", type=Path, default=None, help="append one JSON line per answer that promises an effect "
                   "(accepted contact ids, hand-offs, resolutions) with its wall-clock time, as it happens (read by `kcc_cli.chaos`)")
    p.add_argument("--settle-timeout", type=float, default=180.0, help="how long to wait for metrics to catch up, s (default 180)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--demo", action="store_true", help="loop working days on today's date and show a live summary (Ctrl-C stops)")
    p.add_argument("--refresh", type=float, default=3.0, help="demo: seconds between summary refreshes (default 3)")
    for service in ("intake", "routing", "callback", "metrics"):
        p.add_argument(f"--{service}-url", default=None, help=f"{service}'s base URL (env KCC_{service.upper()}_URL)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    client_urls = urls_from_env(**{s: getattr(args, f"{s}_url") for s in ("intake", "routing", "callback", "metrics")})
    try:
        if args.demo:
            return asyncio.run(demo(args, client_urls))
        return asyncio.run(simulate(args, PlatformClient(urls=client_urls)))
    except KeyboardInterrupt:
        return 130


def today_local() -> date:
    return datetime.now(model.TZ).date()


def config_from(args: argparse.Namespace) -> model.TrafficConfig:
    return model.TrafficConfig(
        start=args.start or today_local(), days=args.days or 1, inhabitants=args.inhabitants, seed=args.seed,
        staffing=args.staffing, workdays_only=args.workdays_only, back_office_away=getattr(args, "back_office_away", 0.15), run_id=args.run_id or uuid.uuid4().hex[:6],
    )


async def simulate(args: argparse.Namespace, client: PlatformClient, *, out: Any = None, pacer: Pacer | None = None) -> int:
    """Plan the period, play it, wait for metrics, print the report. Returns the exit code.
    `pacer` may be given to share the simulated clock (tests hand it to in-process services)."""
    out = out or sys.stdout
    config = config_from(args)
    days = model.plan_period(config)
    first, last = days[0].day, days[-1].day
    planned = sum(sum(d.contacts().values()) for d in days)
    print(f"Simulating {first} .. {last} for {config.inhabitants:,} inhabitants at x{args.speed_up:g} "
          f"(seed {config.seed}, run {config.run_id}): {planned:,} contacts planned", file=out)
    journal = open_journal(args.ledger) if getattr(args, "ledger", None) else None
    runner = Runner(client, seed=config.seed, speed_up=args.speed_up, journal=journal)
    progress = None if args.no_progress else asyncio.create_task(show_progress(runner, total_days=len(days)))
    try:
        await runner.play(days, pacer=pacer)
    finally:
        if progress:
            progress.cancel()
            sys.stderr.write("\n")
    settled, behind, report, counts = await settle(client, runner.ledger, first, last, timeout_s=args.settle_timeout)
    await client.aclose()
    print(format_report(report, counts, runner.ledger, first=first, last=last, settled=settled, behind=behind), file=out)
    if args.json:
        args.json.write_text(json.dumps({
            "from": first.isoformat(), "to": last.isoformat(), "settled": settled, "behind": behind,
            "service_norms": report, "counts": counts, "ledger": ledger_json(runner.ledger),
            "config": {"seed": config.seed, "run_id": config.run_id, "inhabitants": config.inhabitants, "staffing": config.staffing,
                       "speed_up": args.speed_up, "days": config.days},
        }, indent=2, default=str))
    return 0 if settled else 1


def open_journal(path: Path) -> Callable[[dict[str, Any]], None]:
    """A writer of one JSON line per record, flushed at once: a killed run keeps what it was told."""
    stream = path.open("a", encoding="utf-8")

    def write(record: dict[str, Any]) -> None:
        stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        stream.flush()

    return write


def ledger_json(ledger: Ledger) -> dict[str, Any]:
    def flat(counter: Any) -> dict[str, Any]:
        return {("|".join(k) if isinstance(k, tuple) else str(k)): v for k, v in counter.items()}

    return {
        "received": flat(ledger.received), "calls": flat(ledger.calls), "counter": flat(ledger.counter),
        "resolved": flat(ledger.resolved), "decisions": dict(ledger.decisions), "claims": dict(ledger.claims),
        "callbacks": dict(ledger.callbacks), "presence_reports": ledger.presence_reports, "agent_status_reports": ledger.agent_status_reports, "duplicates": ledger.duplicates,
        "errors": dict(ledger.errors), "handle_s": dict(ledger.handle_s),
        "waits": {day: waits for day, waits in ledger.waits.items()},
        "counter_waits": {day: waits for day, waits in ledger.counter_waits.items()},
    }


async def demo(args: argparse.Namespace, urls: dict[str, str]) -> int:
    """Working day after working day on today's date, with a live summary until stopped."""
    client = PlatformClient(urls=urls)
    summary_client = PlatformClient(urls=urls, max_in_flight=2)
    config = config_from(args)
    runner = Runner(client, seed=config.seed, speed_up=args.speed_up)
    state = {"day": 0}

    async def feed() -> None:
        index = 0
        while not args.days or index < args.days:
            today = today_local()
            plan = model.plan_day(model.TrafficConfig(**{**config.__dict__, "workdays_only": True}), index, today)
            model.work_written_queue([plan], config)
            state["day"] = index + 1
            runner.reached = None
            await runner.play([plan], pacer=Pacer(today, args.speed_up))
            index += 1

    async def show() -> None:
        tty = sys.stdout.isatty()
        while True:
            moment = runner.pacer.now().strftime("%H:%M") if runner.pacer else "--:--"
            posted = runner.reached.astimezone(model.TZ).strftime("%H:%M") if runner.reached else "--:--"
            simulated = (f"working day {state['day']} at {moment} (contacts accepted up to {posted}), "
                         f"x{args.speed_up:g}, {config.inhabitants:,} inhabitants")
            try:
                screen = await live_summary(summary_client, today=today_local(), simulated=simulated, docs=urls)
            except Exception as exc:  # the summary must never stop the demo
                screen = f"(summary unavailable: {exc})"
            if tty:
                sys.stdout.write("\x1b[H\x1b[2J" + screen + "\n")
            else:
                sys.stdout.write(screen + "\n" + "-" * 100 + "\n")
            sys.stdout.flush()
            await asyncio.sleep(args.refresh)

    feeder, screen = asyncio.create_task(feed()), asyncio.create_task(show())
    try:
        await feeder
        await asyncio.sleep(args.refresh * 2)  # a last look at the figures
    finally:
        screen.cancel()
        await client.aclose()
        await summary_client.aclose()
    return 0
