"""The traffic model: what a municipality's contact centre sees on each simulated day.

A plan is a pure function of the configuration (seed, dates, size, staffing): arrivals per
channel drawn from calibrated volumes and daily/weekly shapes (`calibration`), the telephone
queue played out against a staffed rota (waits, abandons, answers, hand-offs), the counter's
ticket queue, the written team working its queue by priority, and the back-offices' presence.
The runner then plays the plan against the platform; nothing here talks to it.
"""

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kcc_shared.workdays import is_working_day

from kcc_cli.sim import calibration as cal
from kcc_cli.sim import texts

TZ = ZoneInfo("Europe/Amsterdam")
BACK_OFFICES = ("burgerzaken", "belastingen", "sozawe", "milieudienst", "stadsbeheer", "roez")
LOCATION = "stadhuis"
PHONE_NUMBER = "14050"


# --- calendar --------------------------------------------------------------------------------------


# Working days are the platform's shared calendar (`kcc_shared.workdays`), so the simulated
# offices close on exactly the days the services count as holidays.


def at(day: date, hours: float) -> datetime:
    whole = int(hours)
    minutes = round((hours - whole) * 60)
    return datetime.combine(day, time(whole, 0), TZ) + timedelta(minutes=minutes)


# --- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficConfig:
    start: date
    days: int = 1
    inhabitants: int = cal.REFERENCE_INHABITANTS
    seed: int = 1
    staffing: float = 1.0  # 1.0 = the rota planned for 80% within 20 s; lower means understaffed
    workdays_only: bool = False  # treat every date as a working day (the demo on a Sunday)
    back_office_away: float = 0.15  # chance a back-office employee is away in a half hour (3.3 times that at lunch, at most 0.9)
    run_id: str = "sim"

    @property
    def scale(self) -> float:
        return self.inhabitants / cal.REFERENCE_INHABITANTS


@dataclass
class Call:
    call_id: str
    product: texts.Product
    offered_at: datetime
    caller: str | None
    outcome: str  # answered | abandoned
    wait_s: float
    agent_id: str | None = None
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_up_s: float = 0.0
    handoff: bool = False  # the agent hands the caller to the owning department

    @property
    def answered_at(self) -> datetime:
        return self.offered_at + timedelta(seconds=self.wait_s)

    @property
    def transfer_at(self) -> datetime:
        return self.answered_at + timedelta(seconds=self.talk_s * 0.7)

    @property
    def ended_at(self) -> datetime:
        return self.answered_at + timedelta(seconds=self.talk_s + self.hold_s)

    @property
    def done_at(self) -> datetime:
        return self.ended_at + timedelta(seconds=self.wrap_up_s)


@dataclass
class Visit:
    ticket_id: str
    product: texts.Product
    service_line: str
    drawn_at: datetime
    appointment_id: str | None
    called_at: datetime | None = None
    left_at: datetime | None = None
    desk: str | None = None
    service_s: float = 0.0
    handoff: bool = False

    @property
    def served_at(self) -> datetime | None:
        return self.called_at + timedelta(seconds=self.service_s) if self.called_at else None


@dataclass
class Booking:
    booking_id: str
    product: texts.Product
    booked_at: datetime
    scheduled_for: datetime
    person: str
    email: str


@dataclass
class Written:
    channel: str  # email | web | letter | social
    message_id: str
    product: texts.Product
    received_at: datetime
    subject: str
    text: str
    person: str
    email: str | None = None
    phone: str | None = None
    bsn: str | None = None
    platform: str | None = None
    ocr_damaged: bool = False
    agent_id: str | None = None
    done_at: datetime | None = None  # None: still in the queue when the period ends
    handle_s: float = 0.0
    handoff: bool = False


@dataclass
class PresenceChange:
    at: datetime
    department: str
    agents: list[str]


@dataclass
class AgentChange:
    at: datetime
    agent_id: str
    status: str  # "available" on coming on shift, "offline" on going off


@dataclass
class DayPlan:
    day: date
    index: int
    working: bool
    calls: list[Call] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)  # received on this day
    presence: list[PresenceChange] = field(default_factory=list)
    agent_status: list[AgentChange] = field(default_factory=list)
    callback_rounds: list[datetime] = field(default_factory=list)
    phone_agents: dict[int, int] = field(default_factory=dict)
    desks: dict[int, int] = field(default_factory=dict)
    written_team: int = 0

    def contacts(self) -> dict[str, int]:
        """Contacts this day registers per channel, as intake counts them."""
        counts = {"telephone": len(self.calls), "counter": len(self.visits), "web": len(self.bookings)}
        for item in self.written:
            counts[item.channel] = counts.get(item.channel, 0) + 1
        return counts


def plan_period(config: TrafficConfig) -> list[DayPlan]:
    """Every day of the period, with the written team's backlog carried from day to day."""
    days = [plan_day(config, index) for index in range(config.days)]
    work_written_queue(days, config)
    return days


def plan_day(config: TrafficConfig, index: int, day: date | None = None) -> DayPlan:
    """One day's traffic; the same seed and index give the same day."""
    day = day or config.start + timedelta(days=index)
    rng = random.Random(f"{config.seed}:{index}:{day.isoformat()}")
    working = config.workdays_only or is_working_day(day)
    weekday = 0 if config.workdays_only and not is_working_day(day) else day.weekday()
    plan = DayPlan(day=day, index=index, working=working)
    prefix = f"sim-{config.run_id}-{day:%Y%m%d}-{index}"

    def volume(channel: str, per_day: float) -> float:
        factor = cal.WEEKDAY_FACTOR[channel][weekday]
        if not working and channel in ("telephone", "counter", "letter"):
            factor = 0.0
        return per_day * config.scale * factor

    _plan_calls(plan, rng, volume("telephone", cal.CALLS_PER_WORKING_DAY), config, prefix)
    _plan_counter(plan, rng, volume("counter", cal.COUNTER_VISITS_PER_WORKING_DAY), config, prefix)
    written_volumes = {
        "email": volume("email", cal.EMAILS_PER_DAY),
        "web": volume("web", cal.WEB_FORMS_PER_WORKING_DAY),
        "social": volume("social", cal.SOCIAL_PER_DAY),
        "letter": volume("letter", cal.LETTERS_PER_WORKING_DAY),
    }
    _plan_written(plan, rng, written_volumes, prefix)
    if working:
        _plan_presence(plan, rng, away=config.back_office_away)
        plan.callback_rounds = [at(day, 9.0 + 0.5 * i) for i in range(16)]
    return plan


# --- arrivals -------------------------------------------------------------------------------------------


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def arrivals(rng: random.Random, day: date, per_day: float, profile: dict[int, float]) -> list[datetime]:
    """Arrival moments over the day: a Poisson count per hour, spread uniformly in the hour."""
    total = sum(profile.values())
    moments = []
    for hour, share in sorted(profile.items()):
        for _ in range(poisson(rng, per_day * share / total)):
            moments.append(at(day, hour) + timedelta(seconds=rng.uniform(0, 3600)))
    return sorted(moments)


def lognormal(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


# --- telephone ----------------------------------------------------------------------------------------


def erlang_c_agents(calls_per_hour: float, handle_s: float, *, target: float, threshold_s: float) -> int:
    """The fewest agents for which Erlang C predicts `target` of calls answered within the threshold."""
    load = calls_per_hour * handle_s / 3600
    if load <= 0:
        return 0
    agents = max(1, math.ceil(load))
    while True:
        if agents > load:
            # Erlang C: probability a caller waits, then the share answered within the threshold.
            terms = [load**k / math.factorial(k) for k in range(agents)]
            top = load**agents / math.factorial(agents) * agents / (agents - load)
            waits = top / (sum(terms) + top)
            level = 1 - waits * math.exp(-(agents - load) * threshold_s / handle_s)
            if level >= target:
                return agents
        agents += 1


def _plan_calls(plan: DayPlan, rng: random.Random, per_day: float, config: TrafficConfig, prefix: str) -> None:
    if per_day <= 0:
        return
    profile = cal.HOURLY["telephone"]
    handle = cal.MEAN_TALK_S + cal.MEAN_WRAP_UP_S
    total = sum(profile.values())
    for hour, share in profile.items():
        needed = erlang_c_agents(per_day * share / total, handle, target=cal.PLAN_SERVICE_LEVEL, threshold_s=cal.PLAN_THRESHOLD_S)
        plan.phone_agents[hour] = max(1, round(needed * config.staffing)) if needed else 0
    calls = []
    for n, offered in enumerate(arrivals(rng, plan.day, per_day, profile)):
        product = texts.pick_product(rng)
        caller = None if rng.random() < cal.CALLER_NUMBER_WITHHELD else texts.mobile_number(rng)
        call = Call(call_id=f"{prefix}-call{n:05d}", product=product, offered_at=offered, caller=caller, outcome="answered", wait_s=0.0)
        call.talk_s = max(20.0, lognormal(rng, cal.MEAN_TALK_S, cal.SD_TALK_S))
        call.hold_s = rng.choice((0.0, 0.0, 0.0, rng.uniform(10, 90)))
        call.wrap_up_s = rng.uniform(0.5, 1.5) * cal.MEAN_WRAP_UP_S
        call.handoff = rng.random() > cal.PHONE_RESOLVED_IN_KCC and product.department != "kcc"
        patience = rng.expovariate(1 / cal.MEAN_PATIENCE_S)
        calls.append((call, patience))
    _play_queue(plan, calls, shifts=plan.phone_agents, close=cal.PHONE_HOURS[1], agent_prefix="kcc-agent")
    plan.calls = [call for call, _ in calls]
    _plan_agent_status(plan, prefix="kcc-agent")


def _plan_agent_status(plan: DayPlan, *, prefix: str) -> None:
    """The phone agents' desktops: `available` when an agent's shift starts, `offline` when it ends."""
    on: set[int] = set()
    hours = sorted(plan.phone_agents)
    for hour in hours:
        rota = set(range(plan.phone_agents[hour]))
        moment = datetime.combine(plan.day, time(hour), TZ)
        plan.agent_status += [AgentChange(moment, f"{prefix}-{i + 1:02d}", "available") for i in sorted(rota - on)]
        plan.agent_status += [AgentChange(moment, f"{prefix}-{i + 1:02d}", "offline") for i in sorted(on - rota)]
        on = rota
    if hours:
        close = at(plan.day, cal.PHONE_HOURS[1])
        plan.agent_status += [AgentChange(close, f"{prefix}-{i + 1:02d}", "offline") for i in sorted(on)]


def _on_shift(shifts: dict[int, int], agent: int, moment: datetime, close: float) -> datetime | None:
    """The first moment from `moment` on at which agent number `agent` is on shift today.
    After closing time the last hour's rota stays on until the queue is empty."""
    hour = moment.hour
    last = max((h for h, n in shifts.items() if n > 0), default=None)
    if last is None:
        return None
    if hour > last or (hour == last and shifts[last] > agent):
        return moment if agent < shifts[last] else None
    for h in range(hour, last + 1):
        if shifts.get(h, 0) > agent:
            start = datetime.combine(moment.date(), time(h), TZ)
            return max(moment, start)
    return None


def _play_queue(plan: DayPlan, calls: list[tuple[Call, float]], *, shifts: dict[int, int], close: float, agent_prefix: str) -> None:
    """First come, first served over the staffed agents; a caller whose patience runs out first hangs up."""
    agents = max(shifts.values(), default=0)
    free_at = [datetime.combine(plan.day, time(0), TZ)] * agents
    for call, patience in calls:
        best, who = None, None
        for i in range(agents):
            start = _on_shift(shifts, i, max(call.offered_at, free_at[i]), close)
            if start is not None and (best is None or start < best):
                best, who = start, i
        wait = (best - call.offered_at).total_seconds() if best is not None else math.inf
        if wait > patience:
            call.outcome, call.wait_s = "abandoned", round(patience, 1)
            continue
        assert best is not None and who is not None
        call.wait_s = round(wait, 1)
        call.agent_id = f"{agent_prefix}-{who + 1:02d}"
        free_at[who] = call.done_at


# --- counter ------------------------------------------------------------------------------------------


def _plan_counter(plan: DayPlan, rng: random.Random, per_day: float, config: TrafficConfig, prefix: str) -> None:
    if per_day <= 0:
        return
    opens, closes = cal.COUNTER_HOURS
    appointments = poisson(rng, per_day * cal.COUNTER_APPOINTMENT_SHARE)
    walk_in_times = arrivals(rng, plan.day, per_day * (1 - cal.COUNTER_APPOINTMENT_SHARE), cal.HOURLY["walk_in"])
    service_products = [p for p in texts.PRODUCTS if p.counter]
    visits: list[tuple[Visit, datetime, float]] = []  # visit, ready to be called, patience
    slots = int((closes - opens) * 6)  # 10-minute slots
    for n in range(appointments):
        product = texts.pick_product(rng, tuple(service_products))
        slot = at(plan.day, opens) + timedelta(minutes=10 * rng.randrange(slots))
        # Most visitors check in a few minutes before their slot; some come early, a few late.
        early = rng.choices((rng.uniform(0, 5), rng.uniform(5, 15), -rng.uniform(0, 4)), weights=(0.75, 0.15, 0.10))[0]
        drawn = slot - timedelta(minutes=early)
        appointment_id = f"{prefix}-appt{n:05d}"
        visit = Visit(ticket_id=f"A{n + 1:03d}-{plan.index}", product=product, service_line=product.counter or "balie",
                      drawn_at=max(drawn, at(plan.day, opens - 0.25)), appointment_id=appointment_id)
        visits.append((visit, max(visit.drawn_at, slot), math.inf))
        if rng.random() < cal.ONLINE_BOOKING_SHARE:
            # Today's visitors booked on earlier days; what is booked online today is for days ahead.
            person = texts.name(rng)
            plan.bookings.append(Booking(
                booking_id=f"{prefix}-booking{n:05d}", product=product,
                booked_at=at(plan.day, 7.0) + timedelta(seconds=rng.uniform(0, 15 * 3600)),
                scheduled_for=slot + timedelta(days=rng.randint(1, 20)), person=person, email=texts.email_address(person, rng),
            ))
    for n, moment in enumerate(walk_in_times):
        product = rng.choice(service_products) if rng.random() < 0.6 else texts.pick_product(rng)
        visit = Visit(ticket_id=f"B{n + 1:03d}-{plan.index}", product=product, service_line=product.counter or "balie",
                      drawn_at=moment, appointment_id=None)
        visits.append((visit, moment, rng.expovariate(1 / cal.MEAN_WALK_IN_PATIENCE_S)))
    for visit, _, _ in visits:
        visit.service_s = max(120.0, lognormal(rng, cal.MEAN_COUNTER_SERVICE_S, cal.MEAN_COUNTER_SERVICE_S * 0.5))
        visit.handoff = rng.random() > cal.COUNTER_RESOLVED_IN_KCC and visit.product.department != "kcc"
    # Appointments and walk-ins have their own desks (as burgerzaken and the service desk do);
    # each rota covers its hour's work with some slack.
    for kind, group in (("A", [v for v in visits if v[0].appointment_id]), ("W", [v for v in visits if not v[0].appointment_id])):
        per_hour: dict[int, float] = {}
        for _, ready, _ in group:
            per_hour[ready.hour] = per_hour.get(ready.hour, 0.0) + cal.MEAN_COUNTER_SERVICE_S / 3600
        # The planner books random slots, so appointment desks need slack to call on time.
        occupancy = 0.65 if kind == "A" else 0.85
        desks = {h: max(1, math.ceil(load / occupancy * config.staffing)) for h, load in per_hour.items()}
        for h in range(int(opens), int(closes)):
            desks.setdefault(h, 1)
        for h, n in desks.items():
            plan.desks[h] = plan.desks.get(h, 0) + n
        _serve(plan, sorted(group, key=lambda v: (v[1], v[0].ticket_id)), desks, closes, prefix=f"balie-{kind}")
    plan.visits = sorted((v for v, _, _ in visits), key=lambda v: v.drawn_at)


# --- written channels -------------------------------------------------------------------------------


def _serve(plan: DayPlan, visits: list[tuple[Visit, datetime, float]], shifts: dict[int, int], closes: float, *, prefix: str) -> None:
    """Call visitors in order of being ready at the first free desk; walk-ins may give up."""
    opens = cal.COUNTER_HOURS[0]
    free_at = [at(plan.day, opens)] * max(shifts.values())
    for visit, ready, patience in visits:
        best, who = None, None
        for i in range(len(free_at)):
            start = _on_shift(shifts, i, max(ready, free_at[i]), closes)
            if start is not None and (best is None or start < best):
                best, who = start, i
        if best is None or (best - visit.drawn_at).total_seconds() > patience:
            visit.left_at = visit.drawn_at + timedelta(seconds=min(patience, 4 * 3600))
            continue
        assert who is not None
        visit.called_at, visit.desk = best, f"{prefix}{who + 1}"
        free_at[who] = best + timedelta(seconds=visit.service_s)


def _plan_written(plan: DayPlan, rng: random.Random, volumes: dict[str, float], prefix: str) -> None:
    items = []
    for channel, per_day in volumes.items():
        for n, moment in enumerate(arrivals(rng, plan.day, per_day, cal.HOURLY[channel])):
            product = texts.pick_product(rng)
            person = texts.name(rng)
            subject, text = texts.question(product, channel, rng, sender=person)
            item = Written(channel=channel, message_id=f"{prefix}-{channel}{n:05d}", product=product, received_at=moment,
                           subject=subject, text=text, person=person)
            if channel == "email":
                item.email = texts.email_address(person, rng)
            elif channel == "web":
                item.email = texts.email_address(person, rng) if rng.random() < 0.8 else None
                item.phone = texts.mobile_number(rng) if rng.random() < 0.5 else None
                item.bsn = texts.bsn(rng) if rng.random() < 0.3 else None
            elif channel == "letter":
                item.bsn = texts.bsn(rng) if rng.random() < 0.4 else None
                if rng.random() < cal.OCR_DAMAGED_SHARE:
                    item.text, item.ocr_damaged = texts.ocr_damage(text, rng), True
            else:
                item.platform = rng.choices([p for p, _ in texts.SOCIAL_PLATFORMS], weights=[w for _, w in texts.SOCIAL_PLATFORMS])[0]
            item.handle_s = 60 * cal.WRITTEN_HANDLE_MIN[channel] * rng.uniform(0.5, 1.6)
            item.handoff = rng.random() > cal.WRITTEN_RESOLVED_IN_KCC and product.department != "kcc"
            items.append(item)
    plan.written = sorted(items, key=lambda w: w.received_at)


_PRIORITY = {"social": 0, "email": 1, "web": 1, "letter": 2}


def work_written_queue(days: list[DayPlan], config: TrafficConfig) -> None:
    """The KCC's written team answers the queue by channel priority then age, in office hours."""
    if not days:
        return
    opens, closes = cal.WRITTEN_TEAM_HOURS
    for plan in days:
        if plan.working:
            load_h = sum(w.handle_s for w in plan.written) / 3600
            plan.written_team = max(1, math.ceil(load_h / ((closes - opens) * 0.8) * config.staffing))
    items = [w for plan in days for w in plan.written]
    team = max((p.written_team for p in days), default=0)
    if team == 0 or not items:
        return
    working_days = [p for p in days if p.working]
    waiting: list[tuple[int, datetime, str, Written]] = []
    pending = sorted(items, key=lambda w: w.received_at)
    for plan in working_days:
        free_at = [at(plan.day, opens)] * plan.written_team
        end = at(plan.day, closes)
        while True:
            who = min(range(len(free_at)), key=lambda i: free_at[i])
            now = free_at[who]
            if now >= end:
                break
            while pending and pending[0].received_at <= now:
                item = pending.pop(0)
                heapq.heappush(waiting, (_PRIORITY[item.channel], item.received_at, item.message_id, item))
            if not waiting:
                if not pending or pending[0].received_at >= end:
                    break
                free_at[who] = max(now, pending[0].received_at)
                continue
            *_, item = heapq.heappop(waiting)
            item.agent_id = f"kcc-schriftelijk-{who + 1:02d}"
            item.done_at = now + timedelta(seconds=item.handle_s)
            free_at[who] = item.done_at


# --- back-office presence -----------------------------------------------------------------------------


def _plan_presence(plan: DayPlan, rng: random.Random, *, away: float) -> None:
    """Who each back-office reports present, every half hour (changed or not, as a presence
    system does: routing forgets a report after its ttl): fewer at lunch, sometimes nobody."""
    opens, closes = cal.BACK_OFFICE_HOURS
    for department in BACK_OFFICES:
        staff = [f"{department}-bo{i}" for i in range(1, rng.randint(2, 4) + 1)]
        slot = opens
        while slot < closes:
            lunch = 12.0 <= slot < 13.0
            chance = min(0.9, away * 3.3) if lunch else away
            present = [who for who in staff if rng.random() > chance]
            plan.presence.append(PresenceChange(at=at(plan.day, slot), department=department, agents=present))
            slot += 0.5
        plan.presence.append(PresenceChange(at=at(plan.day, closes), department=department, agents=[]))
    plan.presence.sort(key=lambda p: p.at)
