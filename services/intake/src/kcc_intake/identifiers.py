"""Normalising the identifiers citizens give us, so one citizen looks the same on every channel."""

import phonenumbers

DEFAULT_REGION = "NL"


def normalise_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """A phone number as E.164 ("06-1234 5678" -> "+31612345678"); ValueError if it is no number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """E-mail addresses compare case-insensitively in practice; we store them lower-cased."""
    return raw.strip().lower()


def is_valid_bsn(bsn: str) -> bool:
    """The BSN "11-proef": 9 digits whose weighted sum (9..2, and -1 for the last) divides by 11."""
    if len(bsn) != 9 or not bsn.isdigit() or bsn == "000000000":
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(bsn, weights, strict=True)) % 11 == 0
