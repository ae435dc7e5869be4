"""Norm deadlines in Dutch working days (the shared calendar), Europe/Amsterdam."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from kcc_shared.workdays import add_working_days


def end_of_working_days(moment: datetime, days: int, *, tz: ZoneInfo) -> datetime:
    """The end (23:59:59.999999 local) of the `days`-th working day after the local day of `moment`."""
    return datetime.combine(add_working_days(moment.astimezone(tz).date(), days), time.max, tz)
