"""What a chaos run did, with wall-clock times, and the report that ends with the verdict's line."""

import sys
import time
from datetime import datetime
from pathlib import Path

from kcc_cli.chaos.fleet import SERVICES
from kcc_cli.chaos.ledger import Verdict


class Timeline:
    """What the run did, with wall-clock times, printed above the verdict."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, str]] = []
        self.kills: dict[str, int] = {s: 0 for s in SERVICES}

    def note(self, text: str) -> None:
        now = time.time()
        self.entries.append((now, text))
        print(f"[chaos] {datetime.fromtimestamp(now):%H:%M:%S} {text}", file=sys.stderr, flush=True)

    def lines(self) -> list[str]:
        return [f"  {datetime.fromtimestamp(at):%H:%M:%S}  {text}" for at, text in self.entries]


def report(
    timeline: Timeline, verdict: Verdict, letters: list[str], *, readiness: list[str] = (), duration_s: float, logs: Path, ledger: Path,
) -> str:
    """The kills and outages, the siblings' readiness, dead letters, findings and longest waits; the verdict's line last."""
    lines = ["Kills and outages:", *timeline.lines()]
    lines.append("Kills per service: " + ", ".join(f"{s} {n}" for s, n in timeline.kills.items()))
    lines += readiness
    lines.append(f"Dead letters: {len(letters)}")
    lines += [f"  {line}" for line in letters[:20]]
    if verdict.unknown:
        lines.append(f"Contacts the platform accepted whose answer never reached the simulator: {verdict.unknown}")
    if verdict.findings:
        lines.append(f"Findings ({len(verdict.findings)}):")
        lines += [f"  {finding}" for finding in verdict.findings[:30]]
    slowest = sorted(verdict.delays, reverse=True)[:5]
    if slowest:
        lines.append("Longest waits from acceptance to routing: " + ", ".join(
            f"{delay:.1f} s (accepted {datetime.fromtimestamp(at):%H:%M:%S})" for delay, at, _ in slowest))
    lines.append(f"Run took {duration_s / 60:.1f} min; logs in {logs}, the simulator's ledger in {ledger}")
    lines.append(verdict.line())
    return "\n".join(lines)
