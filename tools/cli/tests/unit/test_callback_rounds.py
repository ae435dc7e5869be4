"""The simulator's back-offices work their call-back lists one round at a time: a round that
runs long (a slow store) must not overlap the next and complete a call-back twice."""

import asyncio
from datetime import datetime

from kcc_cli.sim.client import Response
from kcc_cli.sim.model import TZ
from kcc_cli.sim.runner import Pacer, Runner, attempt_outcome

SEED = 7


class SlowCallbacks:
    """Callback's API for one department as a hand-written fake whose actions take a while."""

    def __init__(self, callback_id: str) -> None:
        self.status = {callback_id: "scheduled"}
        self.completions: list[int] = []

    async def callbacks_due_today(self, department: str) -> Response:
        return Response(200, [{"callback_id": cid, "status": s} for cid, s in self.status.items()])

    async def callback_action(self, callback_id: str, action: str, body: dict) -> Response:
        await asyncio.sleep(0.05)  # long enough for the next round to start meanwhile
        status = self.status[callback_id]
        if action == "attempts":
            self.status[callback_id] = "reached" if body["outcome"] == "reached" else "attempted"
        elif action == "complete":
            if status == "completed":
                self.completions.append(409)
                return Response(409, {"detail": [{"msg": f"call-back {callback_id} is completed: cannot complete"}]})
            self.status[callback_id] = "completed"
            self.completions.append(200)
        return Response(200, {"callback_id": callback_id, "status": self.status[callback_id]})


async def test_overlapping_rounds_complete_a_call_back_once():
    callback_id = next(f"cb-{n}" for n in range(100) if attempt_outcome(SEED, f"cb-{n}", 1) == "reached")
    api = SlowCallbacks(callback_id)
    runner = Runner(api, seed=SEED, speed_up=1e9, departments=["burgerzaken"])
    day = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
    runner.pacer = Pacer(day.date(), 1e9)
    await asyncio.gather(runner._callback_round(day), runner._callback_round(day))  # noqa: SLF001
    assert api.completions == [200]
    assert not runner.ledger.errors, runner.ledger.errors
    assert runner.ledger.callbacks["completed"] == 1
