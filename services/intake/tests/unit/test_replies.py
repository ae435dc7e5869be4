"""The pure parts of answering: the plain-language check, delivery status notifications, limits, placeholders."""

import pytest

from kcc_intake.attachments import AttachmentTooLarge, Limits, Upload
from kcc_intake.letters import dutch_date, readability, syllables
from kcc_intake.replies import dsn_failure, fill_placeholders

PLAIN = "U kunt uw nieuwe paspoort ophalen bij de balie. Neem uw oude paspoort mee. Dat is alles."
CONVOLUTED = (
    "Naar aanleiding van uw schriftelijke verzoek tot heroverweging van de onderhavige belastingaanslag delen wij u mede dat, "
    "gelet op de toepasselijke verordening en de daarin opgenomen tariefbepalingen, de aanslag gehandhaafd dient te worden."
)


def test_dutch_syllables_count_vowel_groups():
    assert [syllables(w) for w in ("huis", "paspoort", "gemeente", "belastingaanslag", "nieuwe", "mw")] == [1, 2, 3, 5, 2, 1]


def test_a_plain_answer_passes_and_a_convoluted_one_warns_above_b1():
    plain, hard = readability(PLAIN), readability(CONVOLUTED)
    assert (plain.words, plain.sentences) == (17, 3)
    # Hand-counted: 14 + 7 + 4 = 25 syllables in 17 words, 17 / 3 words per sentence:
    # 206.84 - 77 * 25/17 - 0.93 * 17/3 = 88.3
    assert plain.flesch_douma == pytest.approx(88.3, abs=0.05) and plain.band == "makkelijk"
    assert plain.above_b1 is False and plain.warning is None
    assert hard.sentences == 1 and hard.flesch_douma < 30 and hard.band == "zeer moeilijk"
    assert hard.above_b1 is True and "boven B1" in hard.warning and f"{hard.words} woorden per zin" in hard.warning
    assert readability(PLAIN, b1_min=99).above_b1 is True  # the threshold is a setting


def test_dutch_dates():
    from datetime import date

    assert dutch_date(date(2026, 12, 7)) == "7 december 2026"


def report(action: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.nl\r\nTo: bounces+reply-1@groningen.nl\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\n"
        f"Final-Recipient: rfc822; a@example.nl\r\nAction: {action}\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n\r\n--b--\r\n"
    ).encode()


def test_only_a_failure_report_counts_as_a_bounce():
    assert dsn_failure(report("failed")) == "5.1.1 (failed) smtp; 550 5.1.1 unknown"
    assert dsn_failure(report("delayed")) is None
    assert dsn_failure(b"From: a@example.nl\r\nSubject: Re: uw antwoord\r\n\r\nDank u wel!") is None  # a citizen's reply


def test_limits_name_the_file_or_the_total():
    limits = Limits(per_attachment=10, per_contact=15)
    limits.check([Upload("a.pdf", "application/pdf", b"x" * 10)])
    with pytest.raises(AttachmentTooLarge) as one:
        limits.check([Upload("a.pdf", "application/pdf", b"x"), Upload("b.pdf", "application/pdf", b"x" * 11)])
    assert str(one.value) == "attachments[1]: b.pdf is 11 bytes, more than 10 per attachment"
    with pytest.raises(AttachmentTooLarge) as total:
        limits.check([Upload("a.pdf", "application/pdf", b"x" * 8)] * 2)
    assert str(total.value) == "attachments: 16 bytes together, more than 15 per contact"


def test_placeholders_are_filled_and_other_braces_stay():
    values = {"naam": "mevrouw De Vries", "referentie": "KCC-1234-ABCD", "ontvangen": "1 december 2026", "datum": "7 december 2026"}
    text = "Beste {naam}, uw vraag van {ontvangen} ({referentie}) is op {datum} beantwoord. {onbekend} {}"
    assert fill_placeholders(text, values) == (
        "Beste mevrouw De Vries, uw vraag van 1 december 2026 (KCC-1234-ABCD) is op 7 december 2026 beantwoord. {onbekend} {}"
    )
