"""The shared working-day calendar follows the Algemene termijnenwet, year after year."""

from datetime import date

import pytest

from kcc_shared.workdays import add_working_days, is_working_day, next_working_day, public_holidays


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 4, 27), "King's Day"),
        (date(2025, 4, 26), "King's Day on the Saturday when the 27th is a Sunday"),
        (date(2012, 4, 30), "Queen's Day before 2014"),
        (date(2026, 5, 5), "5 May in a year that is no lustrum"),
        (date(2025, 5, 5), "5 May in a lustrum year"),
        (date(2026, 5, 14), "Ascension Day"),
        (date(2026, 5, 25), "Whit Monday"),
        (date(2026, 12, 25), "Christmas Day"),
    ],
)
def test_the_law_s_public_holidays_are_no_working_days(day: date, why: str):
    assert day in public_holidays(day.year), why
    assert not is_working_day(day), why


def test_good_friday_is_a_working_day_as_in_the_algemene_termijnenwet():
    assert date(2026, 4, 3) not in public_holidays(2026)
    assert is_working_day(date(2026, 4, 3))


def test_weekends_are_no_working_days():
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert not is_working_day(date(2026, 11, 29))  # Sunday


def test_counting_working_days_skips_weekends_and_holidays():
    assert next_working_day(date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas, Boxing Day, Sunday
    assert add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 6)  # over 5 May
    assert add_working_days(date(2026, 4, 30), 5) == date(2026, 5, 8)  # over 1-3 May weekend and 5 May
    assert add_working_days(date(2026, 11, 27), 2) == date(2026, 12, 1)  # Friday + 2 = Tuesday
    assert add_working_days(date(2026, 11, 29), 0) == date(2026, 11, 29)
    assert is_working_day(date(2027, 12, 27))  # Christmas on a Saturday gives no extra day off
