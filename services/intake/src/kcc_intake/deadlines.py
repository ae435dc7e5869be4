"""Legal deadlines in Dutch working days (Europe/Amsterdam, public holidays from `holidays`)."""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    # The Algemene termijnenwet counts Bevrijdingsdag (5 May) every year; the library lists it
    # only every fifth year.
    return frozenset(holidays.Netherlands(years=year)) | {date(year, 5, 5)}


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (start itself does not count)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            days -= 1
    return current


def letter_deadlines(received: datetime, *, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Acknowledge within 5 working days, answer within 6 weeks: both by the end of that day."""
    local = received.astimezone(tz)
    ack_day = add_working_days(local.date(), 5)
    answer_day = local.date() + timedelta(weeks=6)
    end = time(23, 59, 59)
    return datetime.combine(ack_day, end, tz), datetime.combine(answer_day, end, tz)
