"""The moment KPIs are judged at, and the earliest later moment their figures would change.

A KPI counts a contact, call-back or hand-off whose deadline is still ahead as pending; once the
deadline passes it counts as missed (or, for first-contact resolution, as resolved first time).
Judging through `Now` notes every deadline still ahead, so whoever keeps the figures knows how
long they hold for the same facts (see sheets.py)."""

from datetime import UTC, datetime


class Now:
    def __init__(self, at: datetime) -> None:
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)
        self.next_change: datetime | None = None

    def past(self, due: datetime) -> bool:
        """Whether `due` has passed (now > due); if not, the figures change once it has."""
        if self.at > due:
            return True
        self._note(due)
        return False

    def reached(self, due: datetime) -> bool:
        """Whether `due` has come (now >= due)."""
        if self.at >= due:
            return True
        self._note(due)
        return False

    def _note(self, due: datetime) -> None:
        if self.next_change is None or due < self.next_change:
            self.next_change = due


def as_now(now: "datetime | Now") -> Now:
    return now if isinstance(now, Now) else Now(now)
