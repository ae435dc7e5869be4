"""Masking identifiers inside message content before it leaves intake in an event.

A citizen often repeats their BSN, phone number or e-mail address in the message itself. The
content travels to routing and the owning department, so intake masks every e-mail address,
every phone number (Dutch and international notations) and every 9-digit number that passes
the 11-proef. The clear identifiers stay in intake's store (and its registry).
"""

import re

import phonenumbers

from kcc_intake.identifiers import DEFAULT_REGION, is_valid_bsn

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
# A BSN may be written with dots or spaces in groups: 123.456.782, 123 45 6782.
_NINE_DIGITS = re.compile(r"(?<!\d)(\d[ .\-]?){8}\d(?!\d)")


def redact(text: str | None) -> str | None:
    """The text with e-mail addresses, phone numbers and BSNs replaced by [e-mail], [telefoon], [bsn]."""
    if not text:
        return text
    text = _EMAIL.sub("[e-mail]", text)
    text = _NINE_DIGITS.sub(lambda m: "[bsn]" if is_valid_bsn(re.sub(r"\D", "", m.group())) else m.group(), text)
    pieces, last = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, DEFAULT_REGION, leniency=phonenumbers.Leniency.VALID):
        pieces.append(text[last : match.start])
        pieces.append("[telefoon]")
        last = match.end
    pieces.append(text[last:])
    return "".join(pieces)
