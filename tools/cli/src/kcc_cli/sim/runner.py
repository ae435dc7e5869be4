"""Plays a traffic plan against the platform through its public HTTP APIs, paced by the
simulated clock, and keeps a ledger of what it sent and what the platform answered.

**Simulated time.** Every channel payload carries the simulated moment (a call's `at`, a
ticket's `at`, a mail's `received_at`, a form's `submitted_at`, a letter's `received_on`, a
social message's `sent_at`), so every figure metrics computes from channel events (calls,
counter waits, contacts per channel and day, written deadlines) is that of the simulated day.
Simulated days are real calendar dates (`--start`, default today). A day's traffic runs from
00:00 to 24:00, but only 07:00-19:00 is paced at the speed-up: what arrives at night is posted,
with its own timestamp, at the edges of that window. What the services stamp themselves (routing's
decisions and resolutions, the call-back service's bookings) carries *their* clock, so those land
on the real date they happen: simulate today (the default) and all of it falls in the period.
"""

import asyncio
import hashlib
import sys
import time as wallclock
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from collections.abc import Callable
from typing import Any

from kcc_cli.sim import model
from kcc_cli.sim.client import PlatformClient, Response
from kcc_cli.sim.model import TZ, Booking, Call, DayPlan, PresenceChange, Visit, Written

WINDOW = (7.0, 19.0)  # the paced part of each simulated day, local hours
WINDOW_S = (WINDOW[1] - WINDOW[0]) * 3600
MAILBOX = "info@groningen.nl"
RENEW_EVERY_S = 300.0  # real seconds between an agent's lease renewals; routing's lease is 30 min by default


class Pacer:
    """Maps simulated moments to wall-clock deadlines at a speed-up."""

    def __init__(self, first_day: date, speed_up: float, *, days: int = 1) -> None:
        self.first_day, self.speed_up, self.days = first_day, speed_up, days
        self.started = wallclock.monotonic()

    def offset(self, moment: datetime) -> float:
        local = moment.astimezone(TZ)
        days = (local.date() - self.first_day).days
        into = (local - model.at(local.date(), WINDOW[0])).total_seconds()
        return days * WINDOW_S + min(max(into, 0.0), WINDOW_S)

    async def until(self, moment: datetime) -> None:
        delay = self.started + self.offset(moment) / self.speed_up - wallclock.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def now(self) -> datetime:
        paced = min((wallclock.monotonic() - self.started) * self.speed_up, self.days * WINDOW_S - 1)
        days, into = divmod(paced, WINDOW_S)
        return model.at(self.first_day + timedelta(days=int(days)), WINDOW[0]) + timedelta(seconds=into)


@dataclass
class Ledger:
    """What the simulator sent, and what the platform answered."""

    received: Counter = field(default_factory=Counter)  # (day, channel) -> contacts accepted
    duplicates: int = 0
    calls: Counter = field(default_factory=Counter)  # (day, what)
    waits: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))  # day -> (outcome, wait)
    handle_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # day -> talk+hold+wrap of answered
    counter: Counter = field(default_factory=Counter)  # (day, what)
    counter_waits: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))  # day -> (kind, minutes)
    resolved: Counter = field(default_factory=Counter)  # (day of resolved_at, outcome)
    decisions: Counter = field(default_factory=Counter)  # hand-off decision -> count
    callback_requests: Counter = field(default_factory=Counter)  # day routing decided a call-back -> count
    claims: Counter = field(default_factory=Counter)  # claimed | conflict | not_routed | renewed
    presence_reports: int = 0
    agent_status_reports: int = 0
    callbacks: Counter = field(default_factory=Counter)  # seen, claimed, attempt:<outcome>, completed, failed
    callback_attempts: Counter = field(default_factory=Counter)  # callback id -> attempts
    callbacks_closed: set[str] = field(default_factory=set)
    errors: Counter = field(default_factory=Counter)  # "what status" -> count
    scripts_done: int = 0
    scripts_total: int = 0

    def contacts_by_channel(self, days: list[str] | None = None) -> dict[str, int]:
        out: Counter = Counter()
        for (day, channel), n in self.received.items():
            if days is None or day in days:
                out[channel] += n
        return dict(out)


def _iso(moment: datetime) -> str:
    return moment.astimezone(TZ).isoformat()


def _day(moment: datetime) -> str:
    return moment.astimezone(TZ).date().isoformat()


class Runner:
    def __init__(
        self, client: PlatformClient, *, seed: int, speed_up: float, departments: list[str] | None = None,
        journal: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.client, self.seed, self.speed_up = client, seed, speed_up
        self.ledger = Ledger()
        # Each answer the platform gave that promises an effect (a contact id, a hand-off, a
        # resolution), one record each with the wall-clock moment: what `kcc_cli.chaos` checks.
        self.journal = journal or (lambda record: None)
        self.departments = departments  # the organisation's, fetched by `prepare`
        self.pacer: Pacer | None = None
        # A back-office works its call-back list one round at a time: a round that runs past the
        # next one's moment (a slow platform) would otherwise work the same call-backs again.
        self._back_office_rounds: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def prepare(self) -> None:
        """Learn which departments the organisation has (presence and hand-offs go only there)."""
        if self.departments is not None:
            return
        reply = await self.client.organisation()
        if reply.ok and isinstance(reply.body, dict):
            self.departments = [d["id"] for d in reply.body.get("departments", [])]
        else:
            self.departments = list(model.BACK_OFFICES)
            self.ledger.errors[f"organisation {reply.status}"] += 1

    # --- playing days -----------------------------------------------------------------------------

    async def play(self, days: list[DayPlan], *, pacer: Pacer | None = None) -> None:
        """Play the days' scripts concurrently, each at its simulated moments."""
        await self.prepare()
        self.pacer = pacer or Pacer(days[0].day, self.speed_up, days=(days[-1].day - days[0].day).days + 1)
        scripts = []
        for plan in days:
            scripts += [self._call(c) for c in plan.calls]
            scripts += [self._visit(v) for v in plan.visits]
            scripts += [self._booking(b) for b in plan.bookings]
            scripts += [self._written(w) for w in plan.written]
            scripts += [self._presence(p) for p in plan.presence]
            scripts += [self._agent_status(a) for a in plan.agent_status]
            scripts += [self._callback_round(moment) for moment in plan.callback_rounds]
        self.ledger.scripts_total += len(scripts)
        await asyncio.gather(*(self._counted(s) for s in scripts))

    async def _counted(self, script: Any) -> None:
        try:
            await script
        except Exception as exc:  # one broken contact must not stop the day; it is counted
            self.ledger.errors[f"script {type(exc).__name__}: {str(exc)[:80]}"] += 1
        finally:
            self.ledger.scripts_done += 1

    async def _until(self, moment: datetime) -> None:
        assert self.pacer is not None
        await self.pacer.until(moment)

    reached: datetime | None = None  # the latest contact the platform accepted: behind the clock when it is slower

    def _failed(self, what: str, reply: Response) -> bool:
        if reply.ok:
            return False
        detail = str(reply.body)[:120] if reply.status < 500 else ""
        self.ledger.errors[f"{what} {reply.status} {detail}".strip()] += 1
        return True

    def _accepted(self, reply: Response, *, day: str, channel: str, moment: datetime) -> str | None:
        body = reply.body if isinstance(reply.body, dict) else {}
        if self.pacer is not None:
            moment = min(moment, self.pacer.now())  # night arrivals are posted at the window's edges
        if self.reached is None or moment > self.reached:
            self.reached = moment
        if body.get("duplicate"):
            self.ledger.duplicates += 1
        elif body.get("contact_id"):
            self.ledger.received[(day, channel)] += 1
        if body.get("contact_id"):
            # A duplicate answer too: a retry after a lost answer is the first answer's contact.
            self.journal({"kind": "accepted", "contact_id": body["contact_id"], "channel": channel, "day": day,
                          "duplicate": bool(body.get("duplicate")), "at": wallclock.time()})
        return body.get("contact_id")

    # --- telephone ----------------------------------------------------------------------------------

    async def _call_event(self, call: Call, event: str, moment: datetime, **fields: Any) -> Response:
        payload = {"event": event, "call_id": call.call_id, "at": _iso(moment), **fields}
        return await self.client.post_channel("telephone", "/v1/channels/telephone/events", payload)

    async def _call(self, call: Call) -> None:
        day = _day(call.offered_at)
        await self._until(call.offered_at)
        reply = await self._call_event(
            call, "offered", call.offered_at, dialled_number=model.PHONE_NUMBER, caller_number=call.caller, ivr_choice=call.product.ivr
        )
        if self._failed("call offered", reply):
            return
        contact_id = self._accepted(reply, day=day, channel="telephone", moment=call.offered_at)
        self.ledger.calls[(day, "offered")] += 1
        if call.outcome == "abandoned":
            await self._until(call.answered_at)
            if not self._failed("call abandoned", await self._call_event(call, "abandoned", call.answered_at, wait_s=call.wait_s)):
                self.ledger.calls[(day, "abandoned")] += 1
                self.ledger.waits[day].append(("abandoned", call.wait_s))
            return
        await self._until(call.answered_at)
        if self._failed("call answered", await self._call_event(call, "answered", call.answered_at, agent_id=call.agent_id, wait_s=call.wait_s)):
            return
        self.ledger.calls[(day, "answered")] += 1
        self.ledger.waits[day].append(("answered", call.wait_s))
        agent = call.agent_id or "kcc-agent"
        claimed = contact_id is not None and await self._claim(contact_id, agent)
        beat = self._keep_claim(contact_id, agent) if claimed and contact_id else None
        outcome = "answered_in_kcc"
        if call.handoff and claimed and contact_id:
            await self._until(call.transfer_at)
            decision = await self._hand_off(contact_id, call.product.department)
            if decision == "warm_transfer":
                target = call.product.department
                reply = await self._call_event(call, "transferred", call.transfer_at, target=target, warm=True, announced=True)
                if not self._failed("call transferred", reply):
                    self.ledger.calls[(day, "transferred")] += 1
            outcome = _outcome(decision)
        await self._until(call.ended_at)
        reply = await self._call_event(call, "ended", call.ended_at, talk_s=round(call.talk_s, 1), hold_s=round(call.hold_s, 1), wrap_up_s=round(call.wrap_up_s, 1))
        if not self._failed("call ended", reply):
            self.ledger.calls[(day, "ended")] += 1
            self.ledger.handle_s[day] += round(call.talk_s, 1) + round(call.hold_s, 1) + round(call.wrap_up_s, 1)
        if claimed and contact_id:
            await self._until(call.done_at)
            self._stop(beat)
            await self._resolve(contact_id, agent, outcome, call.talk_s + call.hold_s + call.wrap_up_s)

    # --- routing's queues ---------------------------------------------------------------------------

    async def _claim(self, contact_id: str, agent: str) -> bool:
        """Claim the contact in routing's queue; routing may still be routing it, so retry a while."""
        delay = 0.3
        for _ in range(25):  # ~40 s: routing is consuming the contact from Kafka
            reply = await self.client.claim(contact_id, agent)
            if reply.ok:
                self.ledger.claims["claimed"] += 1
                return True
            if reply.status == 409:
                self.ledger.claims["conflict"] += 1
                return False
            if reply.status != 404:
                self._failed("claim", reply)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        self.ledger.claims["not_routed"] += 1
        return False

    def _keep_claim(self, contact_id: str, agent: str) -> "asyncio.Task[None]":
        """Renew the claim's lease while the agent works, as an agent desktop's heartbeat does: at
        speed-up 1 the longest calls and visits outlast routing's lease."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(RENEW_EVERY_S)
                if self._failed("lease", await self.client.renew_lease(contact_id, agent)):
                    return
                self.ledger.claims["renewed"] += 1

        return asyncio.create_task(beat())

    @staticmethod
    def _stop(beat: "asyncio.Task[None] | None") -> None:
        if beat is not None:
            beat.cancel()

    async def _hand_off(self, contact_id: str, department: str) -> str:
        target = department if department in (self.departments or []) else None
        key = handoff_key(contact_id)
        reply = await self.client.transfer(contact_id, target, key=key)
        if self._failed("transfer", reply):
            return "failed"
        body = reply.body if isinstance(reply.body, dict) else {}
        decision = body.get("decision", "unknown")
        self.ledger.decisions[decision] += 1
        self.journal({"kind": "transfer", "contact_id": contact_id, "key": key, "decision": decision, "at": wallclock.time()})
        if decision == "callback" and body.get("routed_at"):
            self.ledger.callback_requests[datetime.fromisoformat(body["routed_at"]).astimezone(TZ).date().isoformat()] += 1
        return decision

    async def _resolve(self, contact_id: str, agent: str, outcome: str, handle_s: float) -> None:
        reply = await self.client.resolve(contact_id, agent, outcome, handle_s)
        if self._failed("resolve", reply):
            return
        resolved_at = reply.body.get("resolved_at") if isinstance(reply.body, dict) else None
        day = datetime.fromisoformat(resolved_at).astimezone(TZ).date().isoformat() if resolved_at else "?"
        self.ledger.resolved[(day, outcome)] += 1
        self.journal({"kind": "resolved", "contact_id": contact_id, "outcome": outcome, "at": wallclock.time()})

    # --- counter -----------------------------------------------------------------------------------

    async def _ticket(self, visit: Visit, stage: str, moment: datetime) -> Response:
        payload = {
            "ticket_id": visit.ticket_id, "location": model.LOCATION, "stage": stage, "at": _iso(moment),
            "service_line": visit.service_line, "desk": visit.desk if stage != "drawn" else None,
            "appointment_id": visit.appointment_id,
        }
        return await self.client.post_channel("counter", "/v1/channels/counter/visits", payload)

    async def _visit(self, visit: Visit) -> None:
        day = _day(visit.drawn_at)
        kind = "appointment" if visit.appointment_id else "walk_in"
        await self._until(visit.drawn_at)
        reply = await self._ticket(visit, "drawn", visit.drawn_at)
        if self._failed("ticket drawn", reply):
            return
        contact_id = self._accepted(reply, day=day, channel="counter", moment=visit.drawn_at)
        self.ledger.counter[(day, f"drawn_{kind}")] += 1
        if visit.called_at is None:
            assert visit.left_at is not None
            await self._until(visit.left_at)
            if not self._failed("ticket left", await self._ticket(visit, "left", visit.left_at)):
                self.ledger.counter[(day, f"left_{kind}")] += 1
            return
        await self._until(visit.called_at)
        if self._failed("ticket called", await self._ticket(visit, "called", visit.called_at)):
            return
        self.ledger.counter[(day, f"called_{kind}")] += 1
        wait_min = (visit.called_at - visit.drawn_at).total_seconds() / 60
        self.ledger.counter_waits[day].append((kind, wait_min))
        desk = visit.desk or "balie"
        claimed = contact_id is not None and await self._claim(contact_id, desk)
        beat = self._keep_claim(contact_id, desk) if claimed and contact_id else None
        served = visit.served_at
        assert served is not None
        outcome = "answered_in_kcc"
        if visit.handoff and claimed and contact_id:
            outcome = _outcome(await self._hand_off(contact_id, visit.product.department))
        await self._until(served)
        if not self._failed("ticket served", await self._ticket(visit, "served", served)):
            self.ledger.counter[(day, f"served_{kind}")] += 1
        self._stop(beat)
        if claimed and contact_id:
            await self._resolve(contact_id, desk, outcome, visit.service_s)

    async def _booking(self, booking: Booking) -> None:
        await self._until(booking.booked_at)
        payload = {
            "booking_id": booking.booking_id, "product": booking.product.counter or booking.product.name,
            "location": model.LOCATION, "scheduled_for": _iso(booking.scheduled_for), "booked_at": _iso(booking.booked_at),
            "email": booking.email,
        }
        reply = await self.client.post_channel("web", "/v1/channels/web/appointments", payload)
        if self._failed("appointment booked", reply):
            return
        contact_id = self._accepted(reply, day=_day(booking.booked_at), channel="web", moment=booking.booked_at)
        # Self-service: the booking is the whole contact; the planner closes it in the KCC's queue.
        if contact_id and await self._claim(contact_id, "afsprakenplanner"):
            await self._resolve(contact_id, "afsprakenplanner", "answered_in_kcc", 0.0)

    # --- written channels ---------------------------------------------------------------------------

    async def _written(self, item: Written) -> None:
        await self._until(item.received_at)
        moment = _iso(item.received_at)
        if item.channel == "email":
            path, payload = "/v1/channels/email/inbound", {
                "message_id": f"<{item.message_id}@mail.example.nl>", "from_address": item.email, "to": [MAILBOX],
                "subject": item.subject, "text": item.text, "received_at": moment,
            }
        elif item.channel == "web":
            path, payload = "/v1/channels/web/submissions", {
                "form_id": "contactformulier", "submission_id": item.message_id, "subject": item.subject,
                "message": item.text, "name": item.person, "email": item.email, "phone": item.phone, "bsn": item.bsn,
                "submitted_at": moment,
            }
        elif item.channel == "letter":
            path, payload = "/v1/channels/letters", {
                "scan_reference": item.message_id, "received_on": item.received_at.astimezone(TZ).date().isoformat(),
                "ocr_text": item.text, "sender_name": item.person, "bsn": item.bsn,
            }
        else:
            handle = item.person.lower().replace(" ", "")
            path, payload = "/v1/channels/social/messages", {
                "platform": item.platform, "message_id": item.message_id, "handle": handle, "text": item.text,
                "thread_id": f"{item.message_id}-thread", "sent_at": moment,
            }
        payload = {k: v for k, v in payload.items() if v is not None}
        reply = await self.client.post_channel(item.channel, path, payload)
        if self._failed(f"{item.channel} received", reply):
            return
        contact_id = self._accepted(reply, day=_day(item.received_at), channel=item.channel, moment=item.received_at)
        if item.done_at is None or contact_id is None or item.agent_id is None:
            return  # still in the queue when the period ends
        await self._until(item.done_at - timedelta(seconds=item.handle_s))
        if not await self._claim(contact_id, item.agent_id):
            return
        outcome = "answered_in_kcc"
        if item.handoff:
            outcome = _outcome(await self._hand_off(contact_id, item.product.department))
        await self._until(item.done_at)
        await self._resolve(contact_id, item.agent_id, outcome, item.handle_s)

    # --- back-offices ----------------------------------------------------------------------------------

    async def _presence(self, change: PresenceChange) -> None:
        if change.department not in (self.departments or []):
            return
        await self._until(change.at)
        if not self._failed("presence", await self.client.presence(change.department, change.agents)):
            self.ledger.presence_reports += 1

    async def _agent_status(self, change: model.AgentChange) -> None:
        await self._until(change.at)
        if not self._failed("agent status", await self.client.agent_status(change.agent_id, change.status)):
            self.ledger.agent_status_reports += 1

    async def _callback_round(self, moment: datetime) -> None:
        """Each back-office works its call-backs due today: claim, call, and complete when reached."""
        await self._until(moment)
        for department in [d for d in model.BACK_OFFICES if d in (self.departments or [])]:
            async with self._back_office_rounds[department]:
                reply = await self.client.callbacks_due_today(department)
                if self._failed("callbacks due", reply) or not isinstance(reply.body, list):
                    continue
                for task in reply.body:
                    await self._call_back(department, task)

    async def _call_back(self, department: str, task: dict[str, Any]) -> None:
        callback_id, status = task["callback_id"], task.get("status")
        if callback_id in self.ledger.callbacks_closed or status not in ("scheduled", "attempted", "reached"):
            return
        agent = f"{department}-bo1"
        if self.ledger.callback_attempts[callback_id] == 0:
            self.ledger.callbacks["seen"] += 1
            if not self._failed("callback claim", await self.client.callback_action(callback_id, "claim", {"employee_id": agent})):
                self.ledger.callbacks["claimed"] += 1
        if status != "reached":
            self.ledger.callback_attempts[callback_id] += 1
            outcome = attempt_outcome(self.seed, callback_id, self.ledger.callback_attempts[callback_id])
            reply = await self.client.callback_action(callback_id, "attempts", {"agent_id": agent, "outcome": outcome})
            if self._failed("callback attempt", reply):
                return
            self.ledger.callbacks[f"attempt:{outcome}"] += 1
            status = reply.body.get("status") if isinstance(reply.body, dict) else None
        if status == "failed":
            self.ledger.callbacks["failed"] += 1
            self.ledger.callbacks_closed.add(callback_id)
        elif status == "reached":
            if not self._failed("callback complete", await self.client.callback_action(callback_id, "complete", {"agent_id": agent})):
                self.ledger.callbacks["completed"] += 1
                self.ledger.callbacks_closed.add(callback_id)


def handoff_key(contact_id: str) -> str:
    """The Idempotency-Key of a contact's hand-off: one per contact, so a retried request is the same transfer."""
    return f"{contact_id}/hand-off"


def _outcome(decision: str) -> str:
    return {"warm_transfer": "transferred", "callback": "callback", "forward_to_department": "forwarded"}.get(decision, "answered_in_kcc")


def attempt_outcome(seed: int, callback_id: str, attempt: int) -> str:
    """Whether the citizen picks up: 70% reached, 20% no answer, 7% voicemail, 3% wrong number."""
    roll = int(hashlib.sha256(f"{seed}:{callback_id}:{attempt}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if roll < 0.70:
        return "reached"
    if roll < 0.90:
        return "no_answer"
    return "voicemail" if roll < 0.97 else "wrong_number"


# --- progress ---------------------------------------------------------------------------------------------


async def show_progress(runner: Runner, *, total_days: int, stream: Any = sys.stderr, every_s: float = 0.5) -> None:
    """A one-line progress bar on stderr (redrawn in place on a terminal, every 10% otherwise)."""
    tty = hasattr(stream, "isatty") and stream.isatty()
    last_decile = -1
    while True:
        ledger = runner.ledger
        done, total = ledger.scripts_done, max(ledger.scripts_total, 1)
        share = done / total
        moment = runner.pacer.now().strftime("%a %d %b %H:%M") if runner.pacer else "--"
        bar = "#" * int(share * 30)
        contacts = sum(ledger.received.values())
        line = (f"[{bar:<30}] {share:4.0%}  simulated {moment}  contacts {contacts}  requests {runner.client.requests}"
                f"  errors {sum(ledger.errors.values())}")
        if tty:
            stream.write("\r" + line[:150])
            stream.flush()
        elif int(share * 10) > last_decile:
            last_decile = int(share * 10)
            stream.write(line + "\n")
            stream.flush()
        await asyncio.sleep(every_s)
