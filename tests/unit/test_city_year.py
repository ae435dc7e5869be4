"""benchmarks/city_year.py's generator: events the metrics service accepts, Amsterdam's volumes in the
simulator's proportions, and the same traffic for the same seed."""

import importlib
import math
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from kcc_shared.contracts import TOPICS

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def city_year():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("city_year")
    finally:
        sys.path.remove(str(BENCHMARKS))


WEEK = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]  # Monday to Sunday


@pytest.fixture(scope="module")
def week(city_year):
    first, last = city_year.year_ending(date(2026, 12, 6))
    year = city_year.CityYear(first=first, last=last, seed=7, scale=0.05)
    return year, {day: year.day(day) for day in WEEK}


def test_every_event_validates_against_its_topic_and_is_keyed_as_the_producers_key_it(city_year, week):
    _, days = week
    # The contract's topics, not metrics' subscriber table: the benchmark must not depend on metrics' internals.
    catalogue = {topic.name: topic for topic in TOPICS}
    subscribed = {topic.name for topic in city_year.TOPICS}
    keys = {"kcc.call.events.v1": "call_id", "kcc.counter.events.v1": "location", "kcc.agent.status.v1": "agent_id"}
    seen = Counter()
    for out in (o for day in days.values() for o in day):
        topic, key, value, headers = out.record()
        assert topic in subscribed, f"{topic} is not a topic metrics consumes"
        event = catalogue[topic].adapter.validate_json(value)
        assert type(event) is type(out.event) and event.id == out.event.id
        field = keys.get(topic, "callback_id" if topic.startswith("kcc.callback.") else "contact_id")
        assert key == getattr(event.data, field).encode()
        assert dict(headers)["ce_type"] == event.type.encode()
        seen[event.type] += 1
    # Every life cycle the brief names is there.
    for kind in ("call.offered", "call.answered", "call.abandoned", "call.transferred", "call.ended", "contact.received",
                 "contact.routed", "contact.resolved", "contact.acknowledged", "counter.visit", "callback.scheduled",
                 "callback.completed", "survey.answered", "agent.status-changed"):
        assert seen[f"nl.contactstad.{kind}"] > 0, kind
    ids = [o.event.id for day in days.values() for o in day]
    assert len(ids) == len(set(ids))


def test_contacts_per_channel_follow_the_calibrated_proportions(city_year, week):
    year, days = week
    counted = Counter(o.event.data.channel.value for day in days.values() for o in day if o.event.type == "nl.contactstad.contact.received")
    for channel in city_year.CHANNELS:
        expected = sum(year.expected(day)[channel] for day in WEEK)
        assert abs(counted[channel] - expected) <= 4 * math.sqrt(expected) + 2, (channel, counted[channel], expected)
    # A twentieth of Amsterdam: ~300 calls on an average working day, none at the weekend.
    saturday = sum(1 for o in days[WEEK[5]] if o.event.type == "nl.contactstad.call.offered")
    monday = sum(1 for o in days[WEEK[0]] if o.event.type == "nl.contactstad.call.offered")
    assert saturday == 0 and 300 < monday < 420


def test_the_year_takes_amsterdams_calls(city_year):
    first, last = city_year.year_ending(date(2026, 12, 6))
    assert (first, last) == (date(2025, 12, 7), date(2026, 12, 6))
    assert city_year.month_ending(last) == (date(2026, 11, 7), last)
    year = city_year.CityYear(first=first, last=last, seed=1, scale=0.05)
    calls = sum(year.expected(day)["telephone"] for day in year.days(first, last))
    assert calls == pytest.approx(75_000)


def test_a_seed_gives_the_same_traffic_and_another_seed_other_traffic(city_year):
    first, last = city_year.year_ending(date(2026, 12, 6))
    day = date(2026, 12, 1)

    def records(seed):
        return [o.record() for o in city_year.CityYear(first=first, last=last, seed=seed, scale=0.01).day(day)]

    assert records(3) == records(3)
    assert records(3) != records(4)
