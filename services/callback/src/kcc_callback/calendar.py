"""Working days and call-back slots in the municipality's time zone.

Working days are the shared Dutch calendar (`kcc_shared.workdays`: Monday to Friday minus the
public holidays of the Algemene termijnenwet, 5 May every year), so a call-back's deadline is
counted the way metrics judges it. Slot times are built from the local wall clock of each day,
so a slot is at 08:30 on both sides of a daylight-saving change; only its UTC instant moves.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from kcc_shared import workdays

from kcc_callback.settings import DepartmentCapacity

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, in the calendar's time zone
    end: datetime


class WorkingCalendar:
    """Dutch working days and a department's slots, in one time zone."""

    def __init__(self, *, timezone: str = "Europe/Amsterdam") -> None:
        self.tz = ZoneInfo(timezone)

    @staticmethod
    def is_working_day(day: date) -> bool:
        return workdays.is_working_day(day)

    @staticmethod
    def next_working_day(day: date) -> date:
        """The first working day strictly after `day`."""
        return workdays.next_working_day(day)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def at(self, day: date, clock_time) -> datetime:
        """The aware local moment of a wall-clock time on a day (DST safe)."""
        return datetime.combine(day, clock_time, tzinfo=self.tz)

    def deadline(self, *, requested_at: datetime, working_days: int, capacity: DepartmentCapacity) -> datetime:
        """Closing time of the n-th working day after the request's day.

        With n = 0 that is the request's own day if it is a working day still open, else the
        next working day. A request on Thursday 24 December 2026 with n = 1 is due on Monday
        28 December at closing time (25 and 26 December are holidays, 27 is a Sunday).
        """
        local = self.local(requested_at)
        day = local.date()
        if working_days == 0:
            if not self.is_working_day(day) or local.timetz().replace(tzinfo=None) >= capacity.closes:
                day = self.next_working_day(day)
        for _ in range(working_days):
            day = self.next_working_day(day)
        return self.at(day, capacity.closes)

    def slots(self, *, capacity: DepartmentCapacity, after: datetime, horizon_days: int) -> Iterator[Slot]:
        """The department's slots that start at or after `after`, in order, within the horizon."""
        first = self.local(after).date()
        step = timedelta(minutes=capacity.slot_minutes)
        for offset in range(horizon_days + 1):
            day = first + timedelta(days=offset)
            if not self.is_working_day(day):
                continue
            start = self.at(day, capacity.opens)
            closes = self.at(day, capacity.closes)
            while start + step <= closes:
                # Step in wall-clock time: a day's slots never straddle a DST change (at 03:00).
                end = start + step
                if start >= after:
                    yield Slot(start=start, end=end)
                start = end

    def day_bounds(self, moment: datetime) -> tuple[datetime, datetime]:
        """Start and end of the local day that `moment` falls on."""
        day = self.local(moment).date()
        return self.at(day, datetime.min.time()), self.at(day + timedelta(days=1), datetime.min.time())
