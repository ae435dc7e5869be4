"""Records one fact per event, and computes counts and service-norm KPIs from the facts."""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kcc_shared.contracts import (
    AgentStatusChanged,
    CallAbandoned,
    CallAnswered,
    CallbackCancelled,
    CallbackCompleted,
    CallbackFailed,
    CallbackScheduled,
    CallCallbackRequested,
    CallEnded,
    CallOffered,
    CallTransferred,
    ContactAcknowledged,
    ContactAnswered,
    ContactReplyUndelivered,
    ContactReceived,
    ContactResolved,
    ContactRouted,
    CounterAppointment,
    CounterVisit,
    SurveyAnswered,
)
from kcc_shared.contracts.events.counter import visit_key

from kcc_metrics.calls import summed
from kcc_metrics.kpis.callback import callback_kpis
from kcc_metrics.kpis.counter import appointment_kpis, called_waits, counter_kpis, scheduled_times
from kcc_metrics.kpis.handoff import HANDOFFS, first_handoffs, handoff_kpi
from kcc_metrics.kpis.letters import acknowledgement_kpi
from kcc_metrics.kpis.resolution import fcr_kpi, products_of
from kcc_metrics.kpis.satisfaction import satisfaction_kpis
from kcc_metrics.kpis.telephone import telephone_kpis
from kcc_metrics.kpis.now import Now
from kcc_metrics.kpis.written import WRITTEN_CHANNELS, _aware, resolution_kpi, written_kpis
from kcc_metrics.models import DailyCounts, ServiceNormsReport
from kcc_metrics.norms import NormSettings
from kcc_metrics.repository import FactRepository
from kcc_metrics.sheets import combined, holds, sheet_id, stored, template, version, waits_histogram
from kcc_metrics.views import day_views, first_routed

_CALL_EVENT_TIME = {
    "offered": "offered_at", "answered": "answered_at", "abandoned": "abandoned_at",
    "transferred": "transferred_at", "ended": "ended_at", "callback-requested": "requested_at",
}
# Days computed at once when a report finds sheets to (re)compute.
SHEET_CONCURRENCY = 4
CallEvent = CallOffered | CallAnswered | CallAbandoned | CallTransferred | CallEnded | CallCallbackRequested


class MetricsService:
    def __init__(
        self,
        *,
        repository: FactRepository,
        timezone: str,
        norms: NormSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository, self._tz = repository, ZoneInfo(timezone)
        self._norms, self._clock = norms or NormSettings(), clock
        self._known: dict[str, dict[str, dict[str, Any]]] = {}  # version -> KPI templates (sheets.template)

    def with_repository(self, repository: Any) -> "MetricsService":
        """The same service over another repository (the batch consumer's fact collector)."""
        return MetricsService(repository=repository, timezone=self._tz.key, norms=self._norms, clock=self._clock)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    async def contact_received(self, event: ContactReceived) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "received", "day": self.local_day(data.received_at).isoformat(), "channel": data.channel.value,
                "contact_id": data.contact_id, "received_at": data.received_at,
                "acknowledge_due_at": data.acknowledge_due_at, "answer_due_at": data.answer_due_at,
                # The only place a citizen is named: an erasure re-keys this one field to a surrogate.
                "citizen_key": data.citizen_key, "channel_message_id": data.channel_message_id,
            },
        )

    async def contact_acknowledged(self, event: ContactAcknowledged) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "acknowledged", "day": self.local_day(data.acknowledged_at).isoformat(), "channel": data.channel.value,
                "contact_id": data.contact_id, "acknowledged_at": data.acknowledged_at,
            },
        )

    async def survey_answered(self, event: SurveyAnswered) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "survey", "day": self.local_day(data.answered_at).isoformat(), "contact_id": data.contact_id,
                "score": data.score, "answered_at": data.answered_at,
            },
        )

    async def agent_status(self, event: AgentStatusChanged) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "agent", "day": self.local_day(data.at).isoformat(), "agent_id": data.agent_id,
                "status": data.status, "at": data.at,
            },
        )

    async def contact_routed(self, event: ContactRouted) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "routed", "day": self.local_day(data.routed_at).isoformat(), "decision": data.decision,
                "contact_id": data.contact_id, "department_id": data.department_id, "upl_uri": data.upl_uri,
                "channel": data.channel.value, "routed_at": data.routed_at, "due_at": data.due_at,
            },
        )

    async def contact_resolved(self, event: ContactResolved) -> None:
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "resolved", "day": self.local_day(data.resolved_at).isoformat(), "channel": data.channel.value,
                "contact_id": data.contact_id, "outcome": data.outcome, "resolved_at": data.resolved_at,
                "department_id": data.department_id, "upl_uri": data.upl_uri,
            },
        )

    async def contact_answered(self, event: ContactAnswered | ContactReplyUndelivered) -> None:
        """An answer went out (`answered`) or did not arrive (`undelivered`): written channels are judged on these."""
        data = event.data
        if isinstance(event, ContactAnswered):
            fact = {
                "kind": "answered", "day": self.local_day(data.answered_at).isoformat(), "contact_id": data.contact_id,
                "reply_id": data.reply_id, "channel": data.channel.value, "reply_channel": data.reply_channel,
                "answered_at": data.answered_at,
            }
        else:
            fact = {
                "kind": "undelivered", "day": self.local_day(data.undelivered_at).isoformat(), "contact_id": data.contact_id,
                "reply_id": data.reply_id, "channel": data.channel.value, "reply_channel": data.reply_channel,
                "undelivered_at": data.undelivered_at,
            }
        await self._repository.record(event_id=event.id, fact=fact)

    async def call_event(self, event: CallEvent) -> None:
        """One fact per call event; a call's facts are joined by call id when a KPI is asked for."""
        data = event.data
        name = event.type.rsplit(".", 1)[1]
        at = getattr(data, _CALL_EVENT_TIME[name])
        fact: dict[str, Any] = {"kind": "call", "event": name, "call_id": data.call_id, "at": at, "day": self.local_day(at).isoformat()}
        fact |= data.model_dump(include={"wait_s", "talk_s", "hold_s", "wrap_up_s", "service_line", "target", "warm", "announced"})
        await self._repository.record(event_id=event.id, fact=fact)

    async def counter_visit(self, event: CounterVisit) -> None:
        data = event.data
        day = self.local_day(data.at).isoformat()
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "counter", "event": data.stage, "day": day, "at": data.at, "location": data.location,
                "visit_key": visit_key(location=data.location, ticket_id=data.ticket_id, at=data.at, tz=self._tz),
                "appointment_id": data.appointment_id,
            },
        )

    async def counter_event(self, event: CounterVisit | CounterAppointment) -> None:
        """The counter topic: queue tickets and planner appointments."""
        if isinstance(event, CounterAppointment):
            await self.counter_appointment(event)
        else:
            await self.counter_visit(event)

    async def counter_appointment(self, event: CounterAppointment) -> None:
        """One fact per planner event, on the local day the appointment is planned for."""
        data = event.data
        await self._repository.record(
            event_id=event.id,
            fact={
                "kind": "appointment", "event": data.status, "day": self.local_day(data.scheduled_for).isoformat(),
                "appointment_id": data.appointment_id, "location": data.location, "scheduled_for": data.scheduled_for, "at": data.at,
            },
        )

    async def callback_event(self, event: CallbackScheduled | CallbackCompleted | CallbackFailed | CallbackCancelled) -> None:
        data = event.data
        if isinstance(event, CallbackScheduled) and data.rescheduled:
            return  # the promise dates from its first booking
        kind = {
            CallbackScheduled: "scheduled", CallbackCompleted: "completed", CallbackFailed: "failed", CallbackCancelled: "cancelled",
        }[type(event)]
        fact = {
            "kind": "callback", "event": kind, "callback_id": data.callback_id, "day": self.local_day(event.time).isoformat(),
            "department_id": data.department_id, "contact_id": getattr(data, "contact_id", None),
            "at": getattr(data, f"{kind}_at", None) or event.time,
        }
        if isinstance(event, CallbackScheduled | CallbackCompleted):
            fact["deadline"] = data.deadline
        if isinstance(event, CallbackCompleted):
            fact["within_deadline"] = data.within_deadline
        await self._repository.record(event_id=event.id, fact=fact)

    async def daily_counts(self, day: date) -> DailyCounts:
        """From the day's sheet of the whole KCC (which counts them beside the KPIs)."""
        [sheet] = await self.day_sheets([day], channel=None, department=None, leave_out=("views", "kpis"))
        return DailyCounts(day=day, received=sheet["received"], routed=sheet["routed"])

    async def service_norms(
        self, *, first: date, last: date, channel: str | None = None, department: str | None = None
    ) -> ServiceNormsReport:
        """Every KPI over the local days [first, last], optionally for one channel or department:
        the days' sheets added up (sheets.py), each day recomputed from its facts only when it changed."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        sheets = await self.day_sheets(days, channel=channel, department=department, leave_out=("views",))
        kpis = combined(sheets, norms=self._norms, templates=await self._templates(sheets))
        return ServiceNormsReport(from_=first, to=last, channel=channel, department=department, kpis=kpis)

    async def day_sheets(
        self, days: list[date], *, channel: str | None, department: str | None, leave_out: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """The sheets of `days`, those no longer holding (or never made) computed and stored anew;
        `leave_out` names parts the caller does not read (the views' rows are most of a sheet)."""
        if not days:
            return []
        ids = [sheet_id(day, channel, department) for day in days]
        first, last = min(days), max(days)  # one range read each, not a seek per day
        stored = await self._repository.sheets(first=first, last=last, channel=channel, department=department, leave_out=leave_out)
        seqs = await self._repository.change_seqs(first=first, last=last)
        now, current = self._clock(), version(self._norms, self._tz.key)
        stale = [
            (n, day) for n, day in enumerate(days)
            if not holds(stored.get(ids[n]), seq=seqs.get(day.isoformat(), 0), version=current, now=now)
        ]
        found = [stored.get(i) for i in ids]
        gate = asyncio.Semaphore(SHEET_CONCURRENCY)

        async def compute(n: int, day: date) -> None:
            async with gate:
                found[n] = await self._day_sheet(
                    day, channel=channel, department=department, seq=seqs.get(day.isoformat(), 0), version=current
                )

        await asyncio.gather(*(compute(n, day) for n, day in stale))
        if stale:
            await self._repository.keep_sheets([found[n] for n, _ in stale])
        return [sheet for sheet in found if sheet is not None]

    async def _templates(self, sheets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The unit, norm and definition of every KPI in `sheets`, of the current version: known
        to this process once it computed or read them, else read from the store."""
        current = version(self._norms, self._tz.key)
        known = self._known.setdefault(current, {})
        wanted = {f"{k['name']}|{k['channel']}" for sheet in sheets for k in sheet.get("kpis", ())}
        if not wanted <= known.keys():
            known |= await self._repository.templates(current)
        return known

    async def _keep_templates(self, kpis: list[Any]) -> None:
        current = version(self._norms, self._tz.key)
        known = self._known.setdefault(current, {})
        new = dict(template(kpi) for kpi in kpis)
        if not new.keys() <= known.keys():
            await self._repository.keep_templates(current, new)
            known |= new

    async def settle(self, *, quiet_s: float = 0.0) -> int:
        """Recompute, ahead of any request, the sheets that no longer hold: every stored filter of
        the days batches changed (and the whole KCC's for each), and those whose pending deadline
        passed. Days changed in the last `quiet_s` seconds wait for the next time (a day still
        filling up would be computed again and again; a request computes it when asked).
        Returns how many days were looked at."""
        changed = await self._repository.changed_days(quiet_since=self._clock() - timedelta(seconds=quiet_s))
        wanted: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
        wanted[(None, None)] |= set(changed)
        for sheet in await self._repository.sheets_to_settle(days=changed, now=self._clock()):
            wanted[(sheet.get("channel"), sheet.get("department"))].add(sheet["day"])
        for (channel, department), days in wanted.items():
            await self.day_sheets([date.fromisoformat(d) for d in sorted(days)], channel=channel, department=department)
        await self._repository.settled(changed)
        return sum(len(days) for days in wanted.values())

    async def _day_sheet(
        self, day: date, *, channel: str | None, department: str | None, seq: int, version: str
    ) -> dict[str, Any]:
        """One local day's figures from its facts (each question asked of the store once)."""
        now = Now(self._clock())
        reading = self.with_repository(self._repository.reading_once())
        figures = await reading._figures(first=day, last=day, channel=channel, department=department, now=now)
        await self._keep_templates(figures["kpis"])
        return {
            "_id": sheet_id(day, channel, department), "day": day.isoformat(), "channel": channel, "department": department,
            "seq": seq, "version": version, "computed_at": now.at, "valid_until": now.next_change,
            **figures, "kpis": [stored(kpi) for kpi in figures["kpis"]],
        }

    async def _figures(self, *, first: date, last: date, channel: str | None, department: str | None, now: Now) -> dict[str, Any]:
        """The KPIs over [first, last] from the facts, with the telephone counters and the counter waits behind them."""
        kpis: list[Any] = []
        figures: dict[str, Any] = {"telephone": None, "waits": None}
        # Calls carry no department (the CTI knows none), so a department report has no telephone KPIs.
        if channel in (None, "telephone") and department is None:
            # The period's 15-minute counters, kept as call events arrive: O(intervals), not O(calls).
            figures["telephone"] = summed(await self._repository.intervals(first=first, last=last))
            kpis += telephone_kpis(figures["telephone"], norms=self._norms)
        if channel in (None, "counter") and department is None:
            drawn = await self._repository.in_period(kind="counter", first=first, last=last, event="drawn")
            visits = await self._repository.where_in(kind="counter", field="visit_key", values=[f["visit_key"] for f in drawn])
            booked = [f["appointment_id"] for f in drawn if f.get("appointment_id")]
            scheduled = scheduled_times(await self._repository.where_in(kind="appointment", field="appointment_id", values=booked))
            kpis += counter_kpis(visits, norms=self._norms, scheduled=scheduled)
            planned = await self._repository.in_period(kind="appointment", first=first, last=last)
            histories = await self._repository.where_in(kind="appointment", field="appointment_id", values=[f["appointment_id"] for f in planned])
            kpis += appointment_kpis(histories, first=first, last=last)
            figures["waits"] = waits_histogram(called_waits(visits, scheduled))
        if channel in (None, "callback"):
            booked = await self._repository.in_period(kind="callback", first=first, last=last, event="scheduled")
            booked = [f for f in booked if department in (None, f["department_id"])]
            facts = await self._repository.where_in(kind="callback", field="callback_id", values=[f["callback_id"] for f in booked])
            kpis += callback_kpis(facts, norms=self._norms, now=now)
        if channel is None or channel in WRITTEN_CHANNELS:
            received = await self._repository.in_period(kind="received", first=first, last=last)
            received = [f for f in received if f["channel"] in WRITTEN_CHANNELS and channel in (None, f["channel"])]
            received = await self._of_department(received, department)
            ids = [f["contact_id"] for f in received]
            resolved = await self._repository.where_in(kind="resolved", field="contact_id", values=ids)
            answered = await self._repository.where_in(kind="answered", field="contact_id", values=ids)
            undelivered = await self._repository.where_in(kind="undelivered", field="contact_id", values=ids)
            kpis += [
                kpi for kpi in written_kpis(
                    received, resolved, norms=self._norms, tz=self._tz, now=now, answered=answered, undelivered=undelivered,
                )
                if channel in (None, kpi.channel)
            ]
            if channel in (None, "letter"):
                letters = [f for f in received if f["channel"] == "letter"]
                acknowledged = await self._repository.where_in(
                    kind="acknowledged", field="contact_id", values=[f["contact_id"] for f in letters]
                )
                kpis.append(acknowledgement_kpi(letters, acknowledged, norms=self._norms, tz=self._tz, now=now))
        resolved = await self._first_resolved(first=first, last=last)
        resolved = [
            f for f in resolved if channel in (None, f["channel"]) and department in (None, f.get("department_id"))
        ]
        if channel not in ("callback", "handoff"):  # these are promises, not contacts: no resolution share
            kpis.append(resolution_kpi(resolved, norms=self._norms, channel=channel or "all"))
            kpis.append(await self._first_contact_resolution(resolved, first=first, last=last, channel=channel or "all", now=now))
            kpis += await self._satisfaction(first=first, last=last, channel=channel, department=department)
        if channel in (None, "handoff"):
            kpis.append(await self._handoffs(first=first, last=last, department=department, now=now))
        if channel is None and department is None:  # the day's counts (GET /v1/counts/daily), read above already
            receipts = await self._repository.in_period(kind="received", first=first, last=last)
            routed = await self._repository.in_period(kind="routed", first=first, last=last)
            figures["received"] = dict(sorted(Counter(f["channel"] for f in receipts).items()))
            figures["routed"] = dict(sorted(Counter(f["decision"] for f in routed).items()))
            figures["views"] = await self._views(receipts, first=first, last=last)
        return {**figures, "kpis": kpis}

    async def _first_resolved(self, *, first: date, last: date) -> list[dict[str, Any]]:
        """Every resolution fact of the contacts first resolved in [first, last] (a contact counts
        in the period of its first resolution, also when it was resolved again later)."""
        period = await self._repository.in_period(kind="resolved", first=first, last=last)
        facts = await self._repository.where_in(kind="resolved", field="contact_id", values=[f["contact_id"] for f in period])
        earliest: dict[str, dict[str, Any]] = {}
        for fact in facts:
            known = earliest.get(fact["contact_id"])
            if known is None or (_aware(fact["resolved_at"]), fact["outcome"]) < (_aware(known["resolved_at"]), known["outcome"]):
                earliest[fact["contact_id"]] = fact
        inside = {cid for cid, fact in earliest.items() if first.isoformat() <= fact["day"] <= last.isoformat()}
        return [f for f in facts if f["contact_id"] in inside]

    async def _of_department(
        self, received: list[dict[str, Any]], department: str | None
    ) -> list[dict[str, Any]]:
        """Only the contacts routing assigned to `department` (all of them without one)."""
        if department is None:
            return received
        routed = await self._repository.where_in(
            kind="routed", field="contact_id", values=[f["contact_id"] for f in received]
        )
        theirs = {f["contact_id"] for f in routed if f.get("department_id") == department}
        return [f for f in received if f["contact_id"] in theirs]

    async def _first_contact_resolution(
        self, resolved: list[dict[str, Any]], *, first: date, last: date, channel: str, now: Now
    ) -> Any:
        """FCR over `resolved`, with the receipts of these contacts and of every later contact by the same citizens."""
        ids = {f["contact_id"] for f in resolved}
        # A contact is received once, mostly within the period of its resolution: those receipts come
        # from the period's (one range read, asked by the written KPIs too); `$in` fetches only the
        # earlier ones (on the local store each `$in` value costs an index seek).
        period = [f for f in await self._repository.in_period(kind="received", first=first, last=last) if f["contact_id"] in ids]
        earlier = sorted(ids - {f["contact_id"] for f in period})
        originals = period + await self._repository.where_in(kind="received", field="contact_id", values=earlier)
        keys = {f["citizen_key"] for f in originals if f.get("citizen_key")}
        received = {f["contact_id"]: f for f in originals}
        if keys:
            since = min(f["day"] for f in originals)
            until = (last + timedelta(days=self._norms.fcr_window_days + 1)).isoformat()
            # The same citizens' contacts (indexed on the key), those within the window.
            later = await self._repository.where_in(kind="received", field="citizen_key", values=sorted(keys))
            received |= {f["contact_id"]: f for f in later if since <= f["day"] <= until}
        linked = [cid for cid, f in received.items() if f.get("citizen_key")]
        routed = await self._repository.where_in(kind="routed", field="contact_id", values=linked)
        return fcr_kpi(
            resolved, received=received, products=products_of(routed, resolved), norms=self._norms, now=now,
            channel=channel,
        )

    async def _views(self, receipts: list[dict[str, Any]], *, first: date, last: date) -> dict[str, Any]:
        """The breakdowns of the period's contacts (per channel) and its satisfaction groups, for the views."""
        ids = sorted({f["contact_id"] for f in receipts})
        routed = first_routed(await self._repository.where_in(kind="routed", field="contact_id", values=ids))
        resolved = await self._repository.where_in(kind="resolved", field="contact_id", values=ids)
        scores = await self._scores(first=first, last=last)
        answered = sorted(scores)
        channels = {f["contact_id"]: f["channel"] for f in await self._repository.where_in(kind="received", field="contact_id", values=answered)}
        departments = {
            cid: f.get("department_id") or "unrouted"
            for cid, f in first_routed(await self._repository.where_in(kind="routed", field="contact_id", values=answered)).items()
        }
        return day_views(receipts, routed=routed, resolved=resolved, scores=scores, channels=channels, departments=departments, tz=self._tz)

    async def _scores(self, *, first: date, last: date) -> dict[str, int]:
        """contact id -> score of the contacts whose first answer falls in the period (also when they answered again later)."""
        period = await self._repository.in_period(kind="survey", first=first, last=last)
        answers = await self._repository.where_in(kind="survey", field="contact_id", values=[f["contact_id"] for f in period])
        firsts = {f["contact_id"]: f for f in sorted(answers, key=lambda f: (_aware(f["answered_at"]), f["score"]), reverse=True)}
        return {cid: f["score"] for cid, f in sorted(firsts.items()) if first.isoformat() <= f["day"] <= last.isoformat()}

    async def _satisfaction(self, *, first: date, last: date, channel: str | None, department: str | None) -> list[Any]:
        scores = await self._scores(first=first, last=last)
        ids = sorted(scores)
        channels = {
            f["contact_id"]: f["channel"]
            for f in await self._repository.where_in(kind="received", field="contact_id", values=ids)
        }
        if department is not None:
            routed = first_routed(await self._repository.where_in(kind="routed", field="contact_id", values=ids))
            scores = {cid: s for cid, s in scores.items() if routed.get(cid, {}).get("department_id") == department}
        if channel is not None:
            scores = {cid: s for cid, s in scores.items() if channels.get(cid) == channel}
        return [k for k in satisfaction_kpis(scores, channels=channels, norms=self._norms) if channel in (None, k.channel)]

    async def _handoffs(self, *, first: date, last: date, department: str | None, now: Now) -> Any:
        routed = await self._repository.in_period(kind="routed", first=first, last=last)
        ids = sorted({f["contact_id"] for f in routed if f["decision"] in HANDOFFS})
        handoffs = {
            cid: f
            for cid, f in first_handoffs(await self._repository.where_in(kind="routed", field="contact_id", values=ids)).items()
            if first.isoformat() <= f["day"] <= last.isoformat() and department in (None, f.get("department_id"))
        }
        ids = sorted(handoffs)
        warm = [cid for cid, f in handoffs.items() if f["decision"] == "warm_transfer"]
        call_of = {
            f["contact_id"]: f["channel_message_id"]
            for f in await self._repository.where_in(kind="received", field="contact_id", values=warm)
            if f["channel"] == "telephone" and f.get("channel_message_id")
        }
        calls: dict[str, list[dict[str, Any]]] = {}
        for fact in await self._repository.where_in(kind="call", field="call_id", values=sorted(set(call_of.values()))):
            calls.setdefault(fact["call_id"], []).append(fact)
        return handoff_kpi(
            handoffs,
            callbacks=await self._repository.where_in(kind="callback", field="contact_id", values=ids),
            resolved=await self._repository.where_in(kind="resolved", field="contact_id", values=ids),
            calls={cid: calls.get(call_id, []) for cid, call_id in call_of.items()},
            norms=self._norms, now=now,
        )
