import pytest

from kcc_intake.identifiers import is_valid_bsn, normalise_email, normalise_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("06-12345678", "+31612345678"),
        ("06 1234 5678", "+31612345678"),
        ("+31 6 12345678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("050-3678000", "+31503678000"),  # a Groningen landline
        ("+32 470 12 34 56", "+32470123456"),  # a Belgian mobile stays Belgian
    ],
)
def test_phone_numbers_become_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12", "geen nummer", "06-1234", "+31 6 1234567890123"])
def test_non_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_email_is_lower_cased_and_trimmed():
    assert normalise_email("  J.Jansen@Groningen.NL ") == "j.jansen@groningen.nl"


@pytest.mark.parametrize(("bsn", "valid"), [
    ("111222333", True),   # 9+8+7+12+10+8+9+6-3 = 66 = 6 x 11
    ("123456782", True),   # 9+16+21+24+25+24+21+16-2 = 154 = 14 x 11
    ("123456789", False),  # off by the check digit
    ("12345678", False),   # 8 digits
    ("12345678a", False),
    ("000000000", False),
])
def test_bsn_eleven_test(bsn, valid):
    assert is_valid_bsn(bsn) is valid
