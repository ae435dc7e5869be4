"""Deadlines in Dutch working days, on local moments (the calendar itself is shared)."""

from datetime import datetime

from kcc_shared.workdays import add_working_days as add_working_days_to_date
from kcc_shared.workdays import is_working_day

__all__ = ["add_working_days", "is_working_day"]


def add_working_days(moment: datetime, days: int) -> datetime:
    """The same local time of day `days` working days later (the day itself does not count)."""
    return datetime.combine(add_working_days_to_date(moment.date(), days), moment.timetz())
