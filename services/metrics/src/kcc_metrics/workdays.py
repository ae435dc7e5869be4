"""Dutch working days (weekends and national public holidays from `holidays`), Europe/Amsterdam.

Bevrijdingsdag (5 May) is added every year: `holidays` lists it only in lustrum years, but the
Algemene termijnenwet, which governs statutory time limits, counts it every year.

The metrics service keeps its own small version: services never import each other."""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=256)
def _holidays(year: int) -> frozenset[date]:
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


def end_of_working_days(moment: datetime, days: int, *, tz: ZoneInfo) -> datetime:
    """The end (23:59:59.999999 local) of the `days`-th working day after the local day of `moment`."""
    return datetime.combine(add_working_days(moment.astimezone(tz).date(), days), time.max, tz)
