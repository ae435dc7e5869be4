"""The simulator's final figures: taken once metrics has counted what was sent and holds still."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from kcc_cli.sim.report import settle
from kcc_cli.sim.runner import Ledger

DAY = date(2026, 12, 8)


@dataclass
class Reply:
    body: dict[str, Any]
    ok: bool = True


class Metrics:
    """Answers the report and daily counts from a script of successive states of metrics."""

    def __init__(self, states: list[tuple[dict[str, Any], dict[str, int]]]) -> None:
        self.states, self.reads = states, 0

    async def metrics(self, path: str, params: dict[str, Any] | None = None) -> Reply:
        report, received = self.states[min(self.reads, len(self.states) - 1)]
        if path == "/v1/counts/daily":
            self.reads += 1  # the daily counts are read after the report: one state per read
            return Reply({"received": received})
        return Reply(report)


async def test_figures_that_still_move_after_the_counted_ones_arrived_are_waited_for():
    ledger = Ledger()
    ledger.received[(DAY.isoformat(), "email")] = 2
    acknowledged = lambda n: {"kpis": [{"name": "acknowledged_in_time", "channel": "email", "value": n, "counts": {}}]}  # noqa: E731
    metrics = Metrics([
        (acknowledged(0.0), {"email": 1}),  # one contact still on its way
        (acknowledged(0.5), {"email": 2}),  # every contact counted, one acknowledgement still coming
        (acknowledged(1.0), {"email": 2}),
        (acknowledged(1.0), {"email": 2}),
    ])
    settled, behind, report, counts = await settle(metrics, ledger, DAY, DAY, timeout_s=30)
    assert settled and behind == []
    assert report == acknowledged(1.0) and counts == {DAY.isoformat(): {"email": 2}}
    assert metrics.reads == 4  # not the first read with everything counted (0.5), but the first that held


async def test_a_platform_that_never_catches_up_is_reported_behind_at_the_deadline():
    ledger = Ledger()
    ledger.received[(DAY.isoformat(), "web")] = 3
    metrics = Metrics([({"kpis": []}, {"web": 1})])
    settled, behind, _, _ = await settle(metrics, ledger, DAY, DAY, timeout_s=0)
    assert not settled and behind == [f"{DAY.isoformat()} web: 1 of 3 contacts"]
