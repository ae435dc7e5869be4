"""Legal deadlines on a letter, in Dutch working days (Europe/Amsterdam)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kcc_shared.workdays import add_working_days


def letter_deadlines(received: datetime, *, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Acknowledge within 5 working days, answer within 6 weeks: both by the end of that day."""
    local = received.astimezone(tz)
    ack_day = add_working_days(local.date(), 5)
    answer_day = local.date() + timedelta(weeks=6)
    end = time(23, 59, 59)
    return datetime.combine(ack_day, end, tz), datetime.combine(answer_day, end, tz)
