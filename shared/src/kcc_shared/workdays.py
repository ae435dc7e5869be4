"""Dutch working days: the one calendar behind every norm counted in working days.

Shared because it is part of the contract between services: intake and routing put deadlines
on events, callback books against them and metrics judges whether they were kept. When two
services counted 5 May differently, a call-back could be "on time" in one and "late" in the
other.

A working day is Monday to Friday except the public holidays of the Algemene termijnenwet
(art. 3): New Year's Day, Easter Monday, King's Day (Queen's Day before 2014, as
celebrated), 5 May every year, Ascension Day, Whit Monday, Christmas and Boxing Day. The
dates come from the maintained `holidays` library; two corrections make it match the law:
Good Friday is not one of them, and the library lists Liberation Day only every fifth year.

Dates are calendar dates in the municipality's time zone: convert a moment to local time
before asking about its day.
"""

from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.easter import easter


@lru_cache(maxsize=256)
def public_holidays(year: int) -> frozenset[date]:
    """The days of `year` on which the municipality does not count (weekends aside)."""
    good_friday = easter(year) - timedelta(days=2)
    return (frozenset(holidays.Netherlands(years=year)) - {good_friday}) | {date(year, 5, 5)}


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (`start` itself does not count; 0 gives `start`)."""
    for _ in range(days):
        start = next_working_day(start)
    return start
