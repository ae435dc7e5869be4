"""Working days in the Netherlands: weekends and the national public holidays.

The holidays are the ones the Algemene termijnenwet treats as such (Nieuwjaarsdag, Goede
Vrijdag is not one, Pasen, Koningsdag/Koninginnedag, Bevrijdingsdag, Hemelvaart, Pinksteren,
Kerst). Bevrijdingsdag is counted every year, as the Algemene termijnenwet does.
"""

from datetime import date, datetime, timedelta


def easter(year: int) -> date:
    """Easter Sunday (Gregorian, anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def public_holidays(year: int) -> set[date]:
    sunday = easter(year)
    kings = date(year, 4, 27) if year >= 2014 else date(year, 4, 30)
    if kings.weekday() == 6:  # on a Sunday it moves to the Saturday before
        kings -= timedelta(days=1)
    return {
        date(year, 1, 1),
        sunday,
        sunday + timedelta(days=1),
        kings,
        date(year, 5, 5),
        sunday + timedelta(days=39),  # Hemelvaartsdag
        sunday + timedelta(days=49),
        sunday + timedelta(days=50),  # Pinkstermaandag
        date(year, 12, 25),
        date(year, 12, 26),
    }


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def add_working_days(moment: datetime, days: int) -> datetime:
    """The same time of day `days` working days later (the day itself does not count)."""
    current = moment
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date()):
            remaining -= 1
    return current
