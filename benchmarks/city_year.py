"""Benchmark: a big city's year on the real metrics service: ingest, service norms, realtime, the council report.

Generates a year of Amsterdam's contact-centre traffic (1.5 million calls a year; every other
channel in the simulator's calibrated proportion to the calls: counter visits, online
bookings, web forms, e-mails, letters, social messages, with their routing decisions,
resolutions, acknowledgements, call-backs, agent statuses and surveys) for the year ending
yesterday, straight onto the Kafka topics with a bare producer, keyed as the real producers
key them. Metrics runs as a real process on a fresh database and is reached only through the
broker, its HTTP API and `kcc report`:

1. the most recent month alone is published; once metrics' consumer groups have no lag, the
   month's `GET /v1/service-norms` and its council report (`kcc report`, the real CLI) are timed
   ("1 month stored");
2. the 11 months before it are published and ingested; the same month's report is timed again
   ("12 months stored");
3. a bare aiokafka consumer reads every event of the run from the same topics (events/s beside
   metrics' ingest rate); then `GET /v1/service-norms` for one day, one month and the whole
   year and `GET /v1/realtime` are timed (p50/p95 over `--requests` after 2 warm-ups).

    uv run python benchmarks/city_year.py --quick         # a hundredth of the volume
    uv run python benchmarks/city_year.py [--scale 1.0] [--seed 14020] [--requests 20] [--report-rounds 3]

Needs the local stack (`make stack-up`). The last line is
`report cost, 12 months stored / 1 month stored: X` (medians of the month's council report).
Nothing here is a timed assertion: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from kcc_cli.sim import calibration as cal  # noqa: E402
from kcc_cli.sim.model import TZ, arrivals, lognormal, poisson  # noqa: E402
from kcc_cli.sim.texts import PRODUCTS, Product, pick_product  # noqa: E402
from kcc_shared.contracts import (  # noqa: E402
    AGENT_STATUS, CALL_EVENTS, CALLBACK_CANCELLED, CALLBACK_COMPLETED, CALLBACK_FAILED, CALLBACK_SCHEDULED,
    CONTACT_ACKNOWLEDGED, CONTACT_RECEIVED, CONTACT_RESOLVED, CONTACT_ROUTED, CONTENT_TYPE, COUNTER_EVENTS,
    SURVEY_ANSWERED, AgentStatusChanged, AgentStatusChangedData, CallAbandoned, CallAbandonedData, CallAnswered,
    CallAnsweredData, CallbackCancelled, CallbackCancelledData, CallbackCompleted, CallbackCompletedData,
    CallbackFailed, CallbackFailedData, CallbackScheduled, CallbackScheduledData, CallEnded, CallEndedData,
    CallOffered, CallOfferedData, CallTransferred, CallTransferredData, Channel, CitizenPseudonyms, CloudEvent,
    ContactAcknowledged, ContactAcknowledgedData, ContactReceived, ContactReceivedData, ContactResolved,
    ContactResolvedData, ContactRouted, ContactRoutedData, CounterAppointment, CounterAppointmentData,
    CounterVisit, CounterVisitData, SurveyAnswered, SurveyAnsweredData, TopicSpec,
)
from kcc_shared.workdays import add_working_days, is_working_day  # noqa: E402

# --- the city -------------------------------------------------------------------------------------

# Amsterdam takes ~1.5 million calls a year (/work/shared/brief.md, "Volumes to design for").
# The simulator's calibration gives every channel per 150,000 inhabitants; the city is that
# calibration scaled until the telephone line takes 1.5 million calls in the year generated.
AMSTERDAM_CALLS_PER_YEAR = 1_500_000
AMSTERDAM_INHABITANTS = 930_000  # for the pool of citizens who may contact the city more than once
# Amsterdam's stadsloketten (counter events are keyed by location, as intake keys them).
LOCATIONS = ("centrum", "nieuw-west", "noord", "oost", "west", "zuid", "zuidoost")
PHONE_NUMBER = "14020"
# Our assumptions, where the calibration has no figure: a caller's wait (exponential, mean 18 s,
# as benchmarks/report.py draws it: ~67% within 20 s with the calibrated patience, ~5% abandoned),
# the share of telephone hand-offs that are warm transfers (the rest become call-backs), how
# many contacts a citizen rates, and how call-backs end.
MEAN_WAIT_S = 18.0
WARM_TRANSFER_SHARE = 0.6
SURVEY_SHARE = 0.04
CALLBACK_OUTCOMES = (("completed", 0.90), ("failed", 0.05), ("cancelled", 0.05))
UNANSWERED_WRITTEN_SHARE = 0.02  # written contacts nobody answered (they stay open)
UPL = "http://standaarden.overheid.nl/owms/terms/"
SOURCES = {"intake": "/kcc/intake", "routing": "/kcc/routing", "callback": "/kcc/callback", "metrics": "/kcc/metrics"}

# The topics the metrics service subscribes (README, Metrics): the generator writes only these.
TOPICS: tuple[TopicSpec, ...] = (
    CONTACT_RECEIVED, CONTACT_ROUTED, CONTACT_RESOLVED, CONTACT_ACKNOWLEDGED, CALL_EVENTS, COUNTER_EVENTS,
    CALLBACK_SCHEDULED, CALLBACK_COMPLETED, CALLBACK_FAILED, CALLBACK_CANCELLED, SURVEY_ANSWERED, AGENT_STATUS,
)
CHANNELS = ("telephone", "counter", "web", "email", "letter", "social")


@dataclass(frozen=True)
class Out:
    """One event and the topic it goes to."""

    topic: TopicSpec
    event: CloudEvent

    def record(self) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]:
        """(topic, key, value, headers) exactly as `kcc_shared.kafka.EventPublisher` publishes it."""
        key = getattr(self.event.data, self.topic.key) if self.topic.key else self.event.subject
        headers = [("content-type", CONTENT_TYPE.encode()), ("ce_type", self.event.type.encode()), ("ce_id", self.event.id.encode())]
        return self.topic.name, key.encode() if key else None, self.event.model_dump_json().encode(), headers


def year_ending(last: date) -> tuple[date, date]:
    """The year of days that ends with `last` (365 or 366 days)."""
    try:
        first = last.replace(year=last.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        first = last.replace(year=last.year - 1, day=28) + timedelta(days=1)
    return first, last


def month_ending(last: date) -> tuple[date, date]:
    """The month of days that ends with `last` (7 November to 6 December)."""
    year, month = (last.year, last.month - 1) if last.month > 1 else (last.year - 1, 12)
    day = min(last.day, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
    return date(year, month, day) + timedelta(days=1), last


def last_working_day(last: date) -> date:
    while not is_working_day(last):
        last -= timedelta(days=1)
    return last


class CityYear:
    """A big city's contact traffic, one day at a time: a pure function of the seed, the scale and the day."""

    def __init__(self, *, first: date, last: date, seed: int = 14020, scale: float = 1.0) -> None:
        self.first, self.last, self.seed, self.scale = first, last, seed, scale
        # Telephone volume on the calibration's weekday shape, summed over the year's working days.
        phone_days = sum(
            cal.WEEKDAY_FACTOR["telephone"][d.weekday()] for d in self.days(first, last) if is_working_day(d)
        )
        self.city = AMSTERDAM_CALLS_PER_YEAR * scale / (cal.CALLS_PER_WORKING_DAY * phone_days)
        self.citizens = max(100, round(AMSTERDAM_INHABITANTS * scale))

    @staticmethod
    def days(first: date, last: date) -> Iterator[date]:
        for n in range((last - first).days + 1):
            yield first + timedelta(days=n)

    def expected(self, day: date) -> dict[str, float]:
        """The mean number of contacts per channel on `day` (web: forms and online bookings)."""
        working = is_working_day(day)

        def volume(channel: str, per_day: float) -> float:
            if not working and channel in ("telephone", "counter", "letter"):
                return 0.0
            return per_day * self.city * cal.WEEKDAY_FACTOR[channel][day.weekday()]

        counter = volume("counter", cal.COUNTER_VISITS_PER_WORKING_DAY)
        return {
            "telephone": volume("telephone", cal.CALLS_PER_WORKING_DAY),
            "counter": counter,
            "web": volume("web", cal.WEB_FORMS_PER_WORKING_DAY) + counter * cal.COUNTER_APPOINTMENT_SHARE * cal.ONLINE_BOOKING_SHARE,
            "email": volume("email", cal.EMAILS_PER_DAY),
            "letter": volume("letter", cal.LETTERS_PER_WORKING_DAY),
            "social": volume("social", cal.SOCIAL_PER_DAY),
        }

    # --- one day -------------------------------------------------------------------------------

    def day(self, day: date) -> list[Out]:
        """Every event caused by the contacts that arrive on `day`, in the order of their times."""
        g = _Day(self, day)
        g.telephone()
        g.counter()
        g.written()
        g.agents()
        g.out.sort(key=lambda o: o.event.time)
        return g.out


class _Day:
    def __init__(self, year: CityYear, day: date) -> None:
        self.year, self.day = year, day
        self.rng = random.Random(f"city-year:{year.seed}:{day.isoformat()}")
        self.prefix = f"cy{year.seed}-{day:%Y%m%d}"
        self.expected = year.expected(day)
        self.out: list[Out] = []
        self.agents_on_phone = 0

    # helpers ---------------------------------------------------------------------------------

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def emit(self, model: type[CloudEvent], topic: TopicSpec, data: Any, at: datetime, *, source: str, subject: str | None = None) -> None:
        self.out.append(Out(topic, model(id=self.uid(), source=SOURCES[source], subject=subject, time=at, data=data)))

    def citizen(self) -> str:
        """The keyed pseudonym of one of the city's citizens (some contact the city again)."""
        n = self.rng.randrange(self.year.citizens)
        return hashlib.blake2b(f"{self.year.seed}:{n}".encode(), digest_size=16).hexdigest()

    def received(self, channel: Channel, at: datetime, *, citizen: str | None, identifier: str = "bsn", **fields: Any) -> str:
        """A contact registered by intake; the citizen named by the pseudonym of the identifier given."""
        contact_id = self.uid()
        pseudonyms = CitizenPseudonyms(**{identifier: f"{identifier}:{citizen}"}) if citizen else CitizenPseudonyms()
        data = ContactReceivedData(contact_id=contact_id, channel=channel, received_at=at, citizen=pseudonyms,
                                   citizen_key=citizen, reference=f"KCC-{contact_id[:8].upper()}", **fields)
        self.emit(ContactReceived, CONTACT_RECEIVED, data, at, source="intake", subject=contact_id)
        return contact_id

    def routed(self, contact_id: str, channel: Channel, product: Product, at: datetime, decision: str, *,
               due_at: datetime | None = None, transfers: int = 0) -> None:
        data = ContactRoutedData(
            contact_id=contact_id, channel=channel, decision=decision, reason=f"{product.name}: {decision}",
            department_id=product.department, upl_uri=UPL + product.name, upl_name=product.name, due_at=due_at,
            transfers_so_far=transfers, routed_at=at,
        )
        self.emit(ContactRouted, CONTACT_ROUTED, data, at, source="routing", subject=contact_id)

    def resolved(self, contact_id: str, channel: Channel, product: Product, at: datetime, outcome: str, *,
                 by: str, handle_s: float | None = None) -> None:
        data = ContactResolvedData(contact_id=contact_id, channel=channel, outcome=outcome, resolved_at=at, resolved_by=by,
                                   handle_time_s=handle_s, upl_uri=UPL + product.name, department_id=product.department)
        self.emit(ContactResolved, CONTACT_RESOLVED, data, at, source="routing", subject=contact_id)
        if self.rng.random() < SURVEY_SHARE:
            score = self.rng.choices(range(1, 11), weights=(1, 1, 2, 3, 5, 10, 20, 30, 18, 10))[0]
            answered = at + timedelta(hours=self.rng.uniform(1, 48))
            self.emit(SurveyAnswered, SURVEY_ANSWERED, SurveyAnsweredData(contact_id=contact_id, score=score, answered_at=answered),
                      answered, source="metrics", subject=contact_id)

    def working_moment(self, after: datetime, *, working_days: int = 1) -> datetime:
        """A moment in office hours (09:00-16:30) on the `working_days`-th working day after `after`."""
        day = add_working_days(after.astimezone(TZ).date(), working_days)
        return datetime.combine(day, clock(9), TZ) + timedelta(seconds=self.rng.uniform(0, 7.5 * 3600))

    def callback(self, contact_id: str, product: Product, at: datetime) -> None:
        """A call-back booked into the department's next working day, and how it ended."""
        callback_id = self.uid()
        slot_start = self.working_moment(at).replace(minute=0, second=0, microsecond=0)
        deadline = datetime.combine(slot_start.date(), clock(17), TZ)
        self.emit(CallbackScheduled, CALLBACK_SCHEDULED, CallbackScheduledData(
            callback_id=callback_id, contact_id=contact_id, department_id=product.department, slot_start=slot_start,
            slot_end=slot_start + timedelta(minutes=30), deadline=deadline), at + timedelta(seconds=2), source="callback", subject=callback_id)
        outcome = self.rng.choices([o for o, _ in CALLBACK_OUTCOMES], weights=[w for _, w in CALLBACK_OUTCOMES])[0]
        if outcome == "completed":
            done = slot_start + timedelta(minutes=self.rng.uniform(0, 45))
            if self.rng.random() < 0.06:  # a promise broken: the next working day
                done = self.working_moment(done)
            self.emit(CallbackCompleted, CALLBACK_COMPLETED, CallbackCompletedData(
                callback_id=callback_id, contact_id=contact_id, department_id=product.department, completed_at=done,
                completed_by=f"{product.department}-bo{self.rng.randint(1, 4)}", deadline=deadline,
                within_deadline=done <= deadline, attempts=self.rng.choice((1, 1, 1, 2, 3))), done, source="callback", subject=callback_id)
        elif outcome == "failed":
            done = slot_start + timedelta(hours=self.rng.uniform(1, 3))
            self.emit(CallbackFailed, CALLBACK_FAILED, CallbackFailedData(
                callback_id=callback_id, contact_id=contact_id, department_id=product.department, failed_at=done,
                reason=self.rng.choice(("max_attempts", "max_attempts", "wrong_number")), attempts=3,
                escalate_to=f"{product.department}-coordinator"), done, source="callback", subject=callback_id)
        else:
            done = at + timedelta(hours=self.rng.uniform(1, 20))
            self.emit(CallbackCancelled, CALLBACK_CANCELLED, CallbackCancelledData(
                callback_id=callback_id, department_id=product.department, cancelled_at=done, cancelled_by="burger belde opnieuw"),
                done, source="callback", subject=callback_id)

    # channels --------------------------------------------------------------------------------

    def telephone(self) -> None:
        rng = self.rng
        calls = arrivals(rng, self.day, self.expected["telephone"], cal.HOURLY["telephone"])
        # Agents on the line: the day's handle time over 7 productive hours at 85% occupancy.
        self.agents_on_phone = math.ceil(len(calls) * (cal.MEAN_TALK_S + cal.MEAN_WRAP_UP_S) / (7 * 3600 * 0.85)) if calls else 0
        for n, offered in enumerate(calls):
            product = pick_product(rng)
            call_id = f"{self.prefix}-call{n:06d}"
            citizen = None if rng.random() < cal.CALLER_NUMBER_WITHHELD else self.citizen()
            self.emit(CallOffered, CALL_EVENTS, CallOfferedData(
                call_id=call_id, dialled_number=PHONE_NUMBER, caller_key=f"phone:{citizen}" if citizen else None,
                ivr_choice=product.ivr, service_line="algemeen", offered_at=offered), offered, source="intake")
            contact_id = self.received(Channel.TELEPHONE, offered, citizen=citizen, identifier="phone",
                                       channel_message_id=call_id, service_line="algemeen", subject="Telefoon algemeen")
            self.routed(contact_id, Channel.TELEPHONE, product, offered + timedelta(milliseconds=300), "answer_in_kcc")
            wait, patience = rng.expovariate(1 / MEAN_WAIT_S), rng.expovariate(1 / cal.MEAN_PATIENCE_S)
            if patience < wait:
                gone = offered + timedelta(seconds=patience)
                self.emit(CallAbandoned, CALL_EVENTS, CallAbandonedData(call_id=call_id, wait_s=round(patience, 1), abandoned_at=gone),
                          gone, source="intake")
                continue
            answered = offered + timedelta(seconds=wait)
            agent = f"kcc-agent-{rng.randrange(max(1, self.agents_on_phone)) + 1:03d}"
            self.emit(CallAnswered, CALL_EVENTS, CallAnsweredData(call_id=call_id, agent_id=agent, wait_s=round(wait, 1), answered_at=answered),
                      answered, source="intake")
            talk = max(20.0, lognormal(rng, cal.MEAN_TALK_S, cal.SD_TALK_S))
            hold = rng.choice((0.0, 0.0, 0.0, rng.uniform(10, 90)))
            wrap_up = rng.uniform(0.5, 1.5) * cal.MEAN_WRAP_UP_S
            outcome = "answered_in_kcc"
            if rng.random() > cal.PHONE_RESOLVED_IN_KCC and product.department != "kcc":
                handed = answered + timedelta(seconds=talk * 0.7)
                if rng.random() < WARM_TRANSFER_SHARE:
                    outcome = "transferred"
                    self.routed(contact_id, Channel.TELEPHONE, product, handed, "warm_transfer", transfers=1)
                    self.emit(CallTransferred, CALL_EVENTS, CallTransferredData(
                        call_id=call_id, target=product.department, warm=True, announced=True, transferred_at=handed), handed, source="intake")
                else:
                    outcome = "callback"
                    self.routed(contact_id, Channel.TELEPHONE, product, handed, "callback",
                                due_at=datetime.combine(add_working_days(self.day, 1), clock(17), TZ))
                    self.callback(contact_id, product, handed)
            ended = answered + timedelta(seconds=talk + hold)
            self.emit(CallEnded, CALL_EVENTS, CallEndedData(call_id=call_id, talk_s=round(talk, 1), hold_s=round(hold, 1),
                                                            wrap_up_s=round(wrap_up, 1), ended_at=ended), ended, source="intake")
            self.resolved(contact_id, Channel.TELEPHONE, product, ended + timedelta(seconds=wrap_up), outcome, by=agent,
                          handle_s=round(talk + hold + wrap_up, 1))

    def counter(self) -> None:
        rng = self.rng
        per_day = self.expected["counter"]
        if per_day <= 0:
            return
        opens, closes = cal.COUNTER_HOURS
        counter_products = tuple(p for p in PRODUCTS if p.counter)
        visits: list[tuple[datetime, str | None, Product]] = []
        for n in range(poisson(rng, per_day * cal.COUNTER_APPOINTMENT_SHARE)):
            product = pick_product(rng, counter_products)
            slot = datetime.combine(self.day, clock(8, 30), TZ) + timedelta(minutes=10 * rng.randrange(int((closes - opens) * 6)))
            visits.append((slot - timedelta(minutes=rng.uniform(-3, 8)), f"{self.prefix}-appt{n:06d}", product))
            if rng.random() < cal.ONLINE_BOOKING_SHARE:
                self.booking(product, f"{self.prefix}-booking{n:06d}")
        for moment in arrivals(rng, self.day, per_day * (1 - cal.COUNTER_APPOINTMENT_SHARE), cal.HOURLY["walk_in"]):
            visits.append((moment, None, rng.choice(counter_products) if rng.random() < 0.6 else pick_product(rng)))
        for n, (drawn, appointment_id, product) in enumerate(visits):
            location = rng.choice(LOCATIONS)
            ticket = f"{'A' if appointment_id else 'B'}{n + 1:05d}"
            contact_id = self.uid()  # intake's id for the visit, carried on the drawn ticket
            line = product.counter or "balie"
            self.emit(CounterVisit, COUNTER_EVENTS, CounterVisitData(
                ticket_id=ticket, location=location, stage="drawn", at=drawn, contact_id=contact_id, service_line=line,
                appointment_id=appointment_id), drawn, source="intake")
            data = ContactReceivedData(contact_id=contact_id, channel=Channel.COUNTER, received_at=drawn, channel_message_id=ticket,
                                       service_line=line, subject=f"Baliebezoek {line}", reference=f"KCC-{contact_id[:8].upper()}")
            self.emit(ContactReceived, CONTACT_RECEIVED, data, drawn, source="intake", subject=contact_id)
            self.routed(contact_id, Channel.COUNTER, product, drawn + timedelta(milliseconds=300), "answer_in_kcc")
            wait = rng.expovariate(1 / (180.0 if appointment_id else 540.0))
            if not appointment_id and rng.expovariate(1 / cal.MEAN_WALK_IN_PATIENCE_S) < wait:
                left = drawn + timedelta(seconds=wait * rng.uniform(0.3, 1))
                self.emit(CounterVisit, COUNTER_EVENTS, CounterVisitData(ticket_id=ticket, location=location, stage="left", at=left),
                          left, source="intake")
                continue
            called = drawn + timedelta(seconds=wait)
            desk = f"{location}-{rng.randint(1, 12)}"
            self.emit(CounterVisit, COUNTER_EVENTS, CounterVisitData(
                ticket_id=ticket, location=location, stage="called", at=called, desk=desk), called, source="intake")
            served = called + timedelta(seconds=max(120.0, lognormal(rng, cal.MEAN_COUNTER_SERVICE_S, cal.MEAN_COUNTER_SERVICE_S * 0.5)))
            self.emit(CounterVisit, COUNTER_EVENTS, CounterVisitData(
                ticket_id=ticket, location=location, stage="served", at=served, desk=desk), served, source="intake")
            outcome = "forwarded" if rng.random() > cal.COUNTER_RESOLVED_IN_KCC and product.department != "kcc" else "answered_in_kcc"
            self.resolved(contact_id, Channel.COUNTER, product, served, outcome, by=desk, handle_s=(served - called).total_seconds())

    def booking(self, product: Product, booking_id: str) -> None:
        """An appointment booked online: a web contact the planner closes at once (self-service)."""
        rng = self.rng
        booked = datetime.combine(self.day, clock(7), TZ) + timedelta(seconds=rng.uniform(0, 15 * 3600))
        contact_id = self.received(Channel.WEB, booked, citizen=self.citizen(), identifier="email",
                                   channel_message_id=booking_id, subject=f"Afspraak {product.name}")
        scheduled = datetime.combine(self.day + timedelta(days=rng.randint(1, 20)), clock(9), TZ) + timedelta(minutes=10 * rng.randrange(45))
        self.emit(CounterAppointment, COUNTER_EVENTS, CounterAppointmentData(
            appointment_id=booking_id, location=rng.choice(LOCATIONS), status="booked", scheduled_for=scheduled, at=booked,
            product=product.counter or product.name, contact_id=contact_id), booked, source="intake")
        self.routed(contact_id, Channel.WEB, product, booked + timedelta(milliseconds=300), "answer_in_kcc")
        self.resolved(contact_id, Channel.WEB, product, booked + timedelta(seconds=2), "answered_in_kcc", by="afsprakenplanner", handle_s=0.0)

    def written(self) -> None:
        rng = self.rng
        volumes = {
            "email": self.expected["email"],
            "web": self.expected["web"] - self.expected["counter"] * cal.COUNTER_APPOINTMENT_SHARE * cal.ONLINE_BOOKING_SHARE,
            "letter": self.expected["letter"],
            "social": self.expected["social"],
        }
        for name, per_day in volumes.items():
            channel = Channel(name)
            for n, at in enumerate(arrivals(rng, self.day, per_day, cal.HOURLY[name])):
                product = pick_product(rng)
                citizen = self.citizen() if rng.random() < 0.9 else None
                message_id = f"{self.prefix}-{name}{n:06d}"
                fields: dict[str, Any] = {"channel_message_id": message_id, "subject": f"Vraag over {product.name}"}
                if name == "email":
                    fields.update(identifier="email", thread_id=message_id)
                elif name == "web":
                    fields.update(identifier="email")
                elif name == "social":
                    fields.update(identifier="social_handle", thread_id=message_id,
                                  platform=rng.choice(("whatsapp", "whatsapp", "facebook", "x", "instagram")))
                else:
                    at = datetime.combine(self.day, clock(9), TZ)  # intake dates a letter by its post day, 09:00
                    fields.update(identifier="bsn",
                                  acknowledge_due_at=datetime.combine(add_working_days(self.day, 5), clock(23, 59, 59), TZ),
                                  answer_due_at=datetime.combine(self.day + timedelta(weeks=6), clock(23, 59, 59), TZ))
                contact_id = self.received(channel, at, citizen=citizen, **fields)
                if name == "email":
                    ack = at + timedelta(seconds=rng.uniform(5, 60))
                    self.emit(ContactAcknowledged, CONTACT_ACKNOWLEDGED, ContactAcknowledgedData(
                        contact_id=contact_id, channel=channel, acknowledged_at=ack, means="email"), ack, source="intake", subject=contact_id)
                elif name == "letter":
                    ack = self.working_moment(at, working_days=rng.choice((1, 1, 2, 3, 4, 6)))
                    self.emit(ContactAcknowledged, CONTACT_ACKNOWLEDGED, ContactAcknowledgedData(
                        contact_id=contact_id, channel=channel, acknowledged_at=ack, means="letter"), ack, source="intake", subject=contact_id)
                forwarded = rng.random() > cal.WRITTEN_RESOLVED_IN_KCC and product.department != "kcc"
                routed_at = at + timedelta(seconds=rng.uniform(1, 5))
                if forwarded:
                    due = datetime.combine(add_working_days(self.day, 5), clock(17), TZ)
                    self.routed(contact_id, channel, product, routed_at, "forward_to_department", due_at=due)
                else:
                    self.routed(contact_id, channel, product, routed_at, "answer_in_kcc")
                if rng.random() < UNANSWERED_WRITTEN_SHARE:
                    continue
                if name == "social":
                    done = at + timedelta(hours=rng.expovariate(1 / 5))
                elif name == "letter":
                    done = self.working_moment(at, working_days=rng.randint(3, 30))
                else:
                    done = self.working_moment(at, working_days=rng.choice((0, 1, 1, 1, 2, 2, 3))) if is_working_day(self.day) else self.working_moment(at, working_days=rng.choice((1, 1, 2, 3)))
                    done = max(done, at + timedelta(minutes=10))
                handle = 60 * cal.WRITTEN_HANDLE_MIN[name] * rng.uniform(0.5, 1.6)
                if forwarded:
                    self.resolved(contact_id, channel, product, max(done, routed_at) + timedelta(days=rng.uniform(0, 3)), "forwarded",
                                  by=f"{product.department}-bo{rng.randint(1, 4)}", handle_s=round(handle, 1))
                else:
                    self.resolved(contact_id, channel, product, max(done, routed_at), "answered_in_kcc",
                                  by=f"kcc-schriftelijk-{rng.randint(1, 40):02d}", handle_s=round(handle, 1))

    def agents(self) -> None:
        """The phone agents' desktops: available at the start of the day, offline at its end."""
        for i in range(self.agents_on_phone):
            agent = f"kcc-agent-{i + 1:03d}"
            start = datetime.combine(self.day, clock(8), TZ) + timedelta(minutes=self.rng.choice((0, 0, 60, 120)))
            end = datetime.combine(self.day, clock(17), TZ) - timedelta(minutes=self.rng.choice((0, 0, 60, 120)))
            for at, status in ((start, "available"), (end, "offline")):
                self.emit(AgentStatusChanged, AGENT_STATUS, AgentStatusChangedData(agent_id=agent, status=status, at=at), at, source="routing")


# --- running it against the real service ----------------------------------------------------------

BOOTSTRAP = os.environ.get("KCC_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
SETTLING = re.compile(r'^kcc_metrics_sheet_days_pending ([0-9.e+]+)$', re.M)
SETTLE_RUNS = re.compile(r'^kcc_metrics_settle_runs_total ([0-9.e+]+)$', re.M)
DEAD_LETTERED = re.compile(r'^kcc_consumer_events_total\{[^}]*outcome="dead_lettered"[^}]*\} ([0-9.e+]+)$', re.M)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Stack:
    """The broker seen from outside: topics, end offsets, metrics' consumer groups and their lag."""

    def __init__(self, group_id: str) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient

        self.group_id = group_id
        self.admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        self.probe = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
        # A bare producer: acks from every in-sync replica, large batches, no compression (no codec
        # library in the environment, and on loopback bytes are cheap).
        self.producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=20,
                                         max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
        self.partitions: list[Any] = []
        self.contacts: dict[str, int] = dict.fromkeys(CHANNELS, 0)  # contacts published per channel

    async def start(self) -> None:
        from aiokafka import TopicPartition

        from kcc_shared.kafka import ensure_topics
        from kcc_shared.settings import KafkaSettings

        await ensure_topics(settings=KafkaSettings(), topics=TOPICS)
        await self.admin.start()
        await self.probe.start()
        await self.producer.start()
        self.partitions = [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)]

    async def stop(self) -> None:
        await self.producer.stop()
        await self.probe.stop()
        await self.admin.close()

    def group(self, topic: str) -> str:
        """Metrics consumes each topic in its own group `<KCC_METRICS_GROUP_ID>.<topic>` (README, Metrics)."""
        return f"{self.group_id}.{topic}"

    async def end_offsets(self) -> dict[Any, int]:
        return await self.probe.end_offsets(self.partitions)

    async def start_groups_at(self, offsets: dict[Any, int]) -> None:
        """Commit `offsets` for metrics' (still empty) groups, so the service reads exactly what this run publishes."""
        from aiokafka import AIOKafkaConsumer

        for topic in TOPICS:
            consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=self.group(topic.name), enable_auto_commit=False)
            await consumer.start()
            try:
                mine = {tp: offset for tp, offset in offsets.items() if tp.topic == topic.name}
                consumer.assign(list(mine))
                await consumer.commit(mine)
            finally:
                await consumer.stop()

    async def lag(self, end: dict[Any, int]) -> int:
        """Events on metrics' topics up to `end` that its groups have not committed yet."""
        total = 0
        for topic in TOPICS:
            committed = await self.admin.list_consumer_group_offsets(self.group(topic.name))
            for tp, offset in end.items():
                if tp.topic == topic.name:
                    done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
                    total += max(0, offset - done)
        return total

    async def publish(self, year: CityYear, first: date, last: date, *, label: str) -> int:
        """Every event of the days `first`..`last`, day by day; returns how many."""
        sent, futures = 0, []
        started = said = time.perf_counter()
        for day in CityYear.days(first, last):
            for out in year.day(day):
                topic, key, value, headers = out.record()
                if out.topic is CONTACT_RECEIVED:
                    self.contacts[out.event.data.channel.value] += 1
                futures.append(await self.producer.send(topic, value, key=key, headers=headers))
                sent += 1
            if len(futures) > 20_000:
                await asyncio.gather(*futures)
                futures = []
            if time.perf_counter() - said > 5:
                said = time.perf_counter()
                log(f"{label}: {sent:,} events produced (up to {day}), {sent / (said - started):,.0f}/s")
        await asyncio.gather(*futures)
        return sent

    async def wait_ingested(self, end: dict[Any, int], *, label: str, metrics: str, every_s: float = 5.0) -> None:
        import httpx

        said = 0.0
        while (lag := await self.lag(end)) > 0:
            if time.monotonic() - said > every_s:
                said = time.monotonic()
                log(f"{label}: metrics lag {lag:,} events")
            await asyncio.sleep(0.5)
        dead = sum(float(v) for v in DEAD_LETTERED.findall(httpx.get(f"{metrics}/metrics", timeout=30).text))
        if dead:
            log(f"{label}: WARNING metrics dead-lettered {dead:.0f} events")

    async def wait_settled(self, *, label: str, metrics: str, every_s: float = 5.0, limit_s: float = 600.0) -> None:
        """Until metrics reports no day whose sheets still wait for settling (its background job
        recomputes the changed days' sheets every 30 s): the reads are then timed on the year stored,
        not against that job."""
        import httpx

        def read() -> tuple[float | None, float]:
            text = httpx.get(f"{metrics}/metrics", timeout=30).text
            pending, runs = SETTLING.search(text), SETTLE_RUNS.search(text)
            return (float(pending.group(1)) if pending else None), (float(runs.group(1)) if runs else 0.0)

        said, started = 0.0, time.monotonic()
        _, first_run = read()
        while time.monotonic() - started < limit_s:
            pending, runs = read()
            # The job leaves days changed within its last interval for the next round: two rounds
            # after ingest ended, everything ingested has been looked at.
            if pending == 0 and runs >= first_run + 2:
                log(f"{label}: metrics settled the changed days' sheets after {time.monotonic() - started:.0f} s")
                return
            if time.monotonic() - said > every_s:
                said = time.monotonic()
                log(f"{label}: waiting for metrics to settle ({'not reported yet' if pending is None else f'{pending:.0f} days pending'})")
            await asyncio.sleep(2.0)
        log(f"{label}: WARNING metrics had not settled after {limit_s:.0f} s; reading anyway")


async def bare_consumer(start: dict[Any, int], end: dict[Any, int]) -> tuple[int, float]:
    """A bare aiokafka consumer reading [start, end) of every partition, parsing each event's JSON: (events, seconds)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        partitions = [tp for tp in end if end[tp] > start.get(tp, 0)]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start.get(tp, 0))
        total = left = sum(end[tp] - start.get(tp, 0) for tp in partitions)
        started = time.perf_counter()
        while left > 0:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).items():
                for record in records:
                    if record.offset < end[tp]:
                        json.loads(record.value)
                        left -= 1
        return total, time.perf_counter() - started
    finally:
        await consumer.stop()


def start_metrics(port: int, *, database: str, group_id: str) -> subprocess.Popen:
    from _service import dev_auth, start_service

    env = {
        **os.environ,
        "KCC_METRICS_PORT": str(port),
        "KCC_METRICS_MONGO_DATABASE": database,
        "KCC_METRICS_GROUP_ID": group_id,
        "KCC_CONSUMER_AUTO_OFFSET_RESET": "latest",  # the groups' offsets are committed before it starts
        "KCC_LOG_LEVEL": "WARNING",
        "KCC_MONGO_MAX_POOL_SIZE": os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "2"),  # as deploy/local runs it
        **dev_auth()[0],
    }
    return start_service("kcc_metrics", port, env, ready_within_s=180)


def timed_gets(base: str, path: str, params: dict[str, str], *, n: int, budget_s: float, timeout_s: float,
               warm_up: int = 2) -> list[float]:
    """Seconds per GET: `n` of them after `warm_up` untimed ones; fewer warm-ups once they took half of `budget_s`
    and fewer timed ones (at least one) once they took `budget_s`, so a slow read model cannot stretch a run by hours."""
    import httpx

    from _service import dev_auth

    times: list[float] = []
    with httpx.Client(base_url=base, headers=dev_auth()[1], timeout=timeout_s) as client:
        t0 = time.perf_counter()
        for _ in range(warm_up):
            client.get(path, params=params).raise_for_status()
            if time.perf_counter() - t0 > budget_s / 2:
                break
        while len(times) < n and (not times or sum(times) < budget_s):
            t0 = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            times.append(time.perf_counter() - t0)
    return times


def council_report(base: str, first: date, last: date, *, rounds: int, budget_s: float, timeout_s: float) -> tuple[list[float], str]:
    """Seconds per run of the real `kcc report` over the period (`rounds` after one untimed warm-up, as the GETs
    have theirs; fewer once `budget_s` is spent), and how many API answers it used."""
    from _service import dev_auth

    times, answers = [], "?"
    with tempfile.TemporaryDirectory() as tmp:

        def report() -> str:
            done = subprocess.run(
                [sys.executable, "-m", "kcc_cli", "report", "--from", first.isoformat(), "--to", last.isoformat(),
                 "--metrics-url", base, "--out", str(Path(tmp) / "report.html"), "--timeout", str(timeout_s)],
                check=True, capture_output=True, text=True, env={**os.environ, "KCC_TOKEN_OPS": dev_auth()[1]["Authorization"][7:]},
            )
            found = re.search(r"from (\d+) answers", done.stdout + done.stderr)
            return found.group(1) if found else answers

        t0 = time.perf_counter()
        answers = report()
        log(f"  council report warm-up (computes the month's day sheets not ready yet): {ms(time.perf_counter() - t0)}")
        while len(times) < rounds and (not times or sum(times) < budget_s):
            t0 = time.perf_counter()
            answers = report()
            times.append(time.perf_counter() - t0)
    return times, answers


def p(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


async def run(args: argparse.Namespace) -> None:
    yesterday = args.until or (datetime.now(TZ).date() - timedelta(days=1))
    first, last = year_ending(yesterday)
    month_first, month_last = month_ending(last)
    one_day = last_working_day(last)
    year = CityYear(first=first, last=last, seed=args.seed, scale=args.scale)
    tag = uuid.uuid4().hex[:8]
    database, group_id = f"bench_city_year_{tag}", f"bench-city-year-{tag}"
    log(f"a year of {AMSTERDAM_CALLS_PER_YEAR * args.scale:,.0f} calls ({args.scale:g} of Amsterdam's), {first} to {last}, "
        f"seed {args.seed}; month 12 is {month_first} to {month_last}; metrics database {database}")

    stack = Stack(group_id)
    await stack.start()
    origin = await stack.end_offsets()
    await stack.start_groups_at(origin)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_metrics(port, database=database, group_id=group_id)
    figures: dict[str, Any] = {}
    try:
        async def publish_and_ingest(label: str, since: date, until: date) -> tuple[int, float, float, dict[Any, int]]:
            """Publish the days [since, until] and wait until metrics ingested them: events, produce and ingest seconds, end offsets."""
            t0 = time.perf_counter()
            sent = await stack.publish(year, since, until, label=label)
            produced = time.perf_counter() - t0
            end = await stack.end_offsets()
            await stack.wait_ingested(end, label=label, metrics=base)
            ingested = time.perf_counter() - t0
            await stack.wait_settled(label=label, metrics=base)
            log(f"{label}: {sent:,} events produced in {produced:.1f} s, ingested by metrics after {ingested:.1f} s "
                f"({sent / ingested:,.0f} events/s)")
            return sent, produced, ingested, end

        # 1. The most recent month alone.
        sent_month, produced_month, ingest_month, _ = await publish_and_ingest("month 12", month_first, month_last)
        figures["1 month"] = measure_month(base, month_first, month_last, args)

        # 2. The 11 months before it.
        sent_rest, produced_rest, ingest_rest, end_year = await publish_and_ingest("months 1-11", first, month_first - timedelta(days=1))
        figures["12 months"] = measure_month(base, month_first, month_last, args)

        # 3. A bare consumer over the same events, then the service's reads with the year stored.
        bare_events, bare_s = await bare_consumer(origin, end_year)
        log(f"bare aiokafka consumer: {bare_events:,} events in {bare_s:.1f} s")
        reads = {
            f"service norms, one day ({one_day})": ("/v1/service-norms", {"from": one_day.isoformat(), "to": one_day.isoformat()}),
            f"service norms, one month ({month_first} to {month_last})": ("/v1/service-norms", {"from": month_first.isoformat(), "to": month_last.isoformat()}),
            f"service norms, whole year ({first} to {last})": ("/v1/service-norms", {"from": first.isoformat(), "to": last.isoformat()}),
            "realtime": ("/v1/realtime", {}),
        }
        timings = {}
        for label, (path, params) in reads.items():
            timings[label] = timed_gets(base, path, params, n=args.requests, budget_s=args.read_budget_s, timeout_s=args.request_timeout_s)
            log(f"{label}: p50 {ms(statistics.median(timings[label]))}, p95 {ms(p(timings[label], 0.95))} (n={len(timings[label])})")
    finally:
        await stack.stop()
        process.terminate()
        process.wait(timeout=120)

    # The table.
    total = sent_month + sent_rest
    print()
    contacts = ", ".join(f"{channel} {n:,}" for channel, n in stack.contacts.items())
    print(f"City year: {total:,} events, {sum(stack.contacts.values()):,} contacts ({contacts}), {first} to {last}, scale {args.scale:g} of Amsterdam "
          f"({AMSTERDAM_CALLS_PER_YEAR:,} calls a year), seed {args.seed}; {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'ingest':58} {'events':>12} {'seconds':>9} {'events/s':>10}")
    print(f"{'metrics service, month 12 (first produce to lag 0)':58} {sent_month:>12,} {ingest_month:>9.1f} {sent_month / ingest_month:>10,.0f}")
    print(f"{'metrics service, months 1-11 (first produce to lag 0)':58} {sent_rest:>12,} {ingest_rest:>9.1f} {sent_rest / ingest_rest:>10,.0f}")
    print(f"{'metrics service, the whole year':58} {total:>12,} {ingest_month + ingest_rest:>9.1f} {total / (ingest_month + ingest_rest):>10,.0f}")
    print(f"{'bare aiokafka consumer, same events (json parse)':58} {bare_events:>12,} {bare_s:>9.1f} {bare_events / bare_s:>10,.0f}")
    print(f"{'bare producer (generate + send, acks=all)':58} {total:>12,} {produced_month + produced_rest:>9.1f} {total / (produced_month + produced_rest):>10,.0f}")
    print()
    print(f"{'read with the year stored (2 warm-ups, then timed)':58} {'p50':>10} {'p95':>10} {'n':>4}")
    for label, values in timings.items():
        print(f"{label:58} {ms(statistics.median(values)):>10} {ms(p(values, 0.95)):>10} {len(values):>4}")
    print()
    print(f"{'a month (' + str(month_first) + ' to ' + str(month_last) + '), medians':58} {'1 month':>10} {'12 months':>10} {'ratio':>7} {'n':>7}")
    for what in ("service norms", "council report"):
        ones, twelves = figures["1 month"][what], figures["12 months"][what]
        one, twelve = statistics.median(ones), statistics.median(twelves)
        print(f"{what + (' (kcc report, ' + figures['1 month']['answers'] + ' API answers)' if what == 'council report' else ''):58} "
              f"{ms(one):>10} {ms(twelve):>10} {twelve / one:>7.2f} {f'{len(ones)}/{len(twelves)}':>7}")
    one, twelve = statistics.median(figures["1 month"]["council report"]), statistics.median(figures["12 months"]["council report"])
    print(f"report cost, 12 months stored / 1 month stored: {twelve / one:.2f}")


def measure_month(base: str, first: date, last: date, args: argparse.Namespace) -> dict[str, Any]:
    """The month's service norms (`--requests` after 2 warm-ups) and its council report (`--report-rounds`)."""
    norms = timed_gets(base, "/v1/service-norms", {"from": first.isoformat(), "to": last.isoformat()}, n=args.requests,
                       budget_s=args.read_budget_s, timeout_s=args.request_timeout_s)
    log(f"  month's service norms: median {ms(statistics.median(norms))} (n={len(norms)})")
    report, answers = council_report(base, first, last, rounds=args.report_rounds, budget_s=args.read_budget_s,
                                     timeout_s=args.request_timeout_s)
    log(f"  month's council report (kcc report, {answers} API answers): median {ms(statistics.median(report))} (n={len(report)})")
    return {"service norms": norms, "council report": report, "answers": answers}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of Amsterdam's volume (1.0: 1.5 million calls a year)")
    parser.add_argument("--quick", action="store_true", help="a hundredth of the volume (--scale 0.01): within 10 minutes here")
    parser.add_argument("--seed", type=int, default=14020)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per read, after 2 warm-ups")
    parser.add_argument("--report-rounds", type=int, default=3, help="runs of the month's council report per measurement")
    parser.add_argument("--read-budget-s", type=float, default=None,
                        help="seconds of timed requests per read after which it stops short of --requests (default 600; --quick 60)")
    parser.add_argument("--request-timeout-s", type=float, default=4 * 3600.0,
                        help="how long one request (and each of kcc report's) may take; today's read model needs hours at full scale")
    parser.add_argument("--until", type=date.fromisoformat, default=None, help="the year's last day (default: yesterday)")
    args = parser.parse_args()
    if args.quick:
        args.scale = 0.01
    if args.read_budget_s is None:
        args.read_budget_s = 60.0 if args.quick else 600.0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
