"""Answer letters: a plain-language check of the answer and the letter as a PDF for the post room.

Readability is scored with Flesch-Douma, Flesch's reading ease recalibrated for Dutch (Douma
1960): 206.84 - 0.77 x syllables per 100 words - 0.93 x words per sentence. Douma's bands:
below 30 very hard, 30-45 hard, 45-60 fairly hard, 60-70 normal, above 70 easy. B1, the
level the national "Direct Duidelijk" guidance asks of government letters, sits around
"normal": an answer scoring below the configured minimum (60) reads above B1 and the API
warns. A formula counts, it does not understand; the warning asks a person to look again."""

import re
from dataclasses import dataclass
from datetime import date

from fpdf import FPDF

WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿ]+)*")
SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)|\n\s*\n")
# Vowel groups: "ij", "ei", "oe", "aa"... count once; a "y" is a vowel in Dutch loan words.
VOWEL_GROUP = re.compile(r"[aeiouyàáâäèéêëìíîïòóôöùúûü]+")

DUTCH_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december",
)


def syllables(word: str) -> int:
    """Dutch syllables, counted as vowel groups (a diphthong is one: "huis", "meer", "trein")."""
    return max(1, len(VOWEL_GROUP.findall(word.lower())))


@dataclass(frozen=True)
class Readability:
    flesch_douma: float
    words: int
    sentences: int
    words_per_sentence: float
    syllables_per_word: float
    band: str
    above_b1: bool
    warning: str | None


def readability(text: str, *, b1_min: float = 60.0) -> Readability:
    """Flesch-Douma score of a Dutch text, its band, and a warning when it reads above B1."""
    words = WORD.findall(text)
    sentences = max(1, len([s for s in SENTENCE_END.split(text) if WORD.search(s)]))
    n = max(1, len(words))
    per_sentence = len(words) / sentences
    per_word = sum(syllables(w) for w in words) / n
    score = round(206.84 - 77 * per_word - 0.93 * per_sentence, 1)
    band = (
        "zeer moeilijk" if score < 30 else "moeilijk" if score < 45 else "vrij moeilijk" if score < 60
        else "normaal" if score < 70 else "makkelijk"
    )
    above = score < b1_min
    warning = (
        f"Het antwoord is {band} te lezen (Flesch-Douma {score}, onder {b1_min:g}: boven B1). "
        f"Gemiddeld {per_sentence:.0f} woorden per zin en {per_word:.2f} lettergrepen per woord: "
        "maak de zinnen korter en kies gewone woorden."
    ) if above else None
    return Readability(score, len(words), sentences, round(per_sentence, 1), round(per_word, 2), band, above, warning)


def dutch_date(day: date) -> str:
    return f"{day.day} {DUTCH_MONTHS[day.month - 1]} {day.year}"


def _latin1(text: str) -> str:
    """The PDF's core font speaks Latin-1: typographic quotes and dashes become their plain forms."""
    plain = text.translate(str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "€": "EUR "}))
    return plain.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class Letter:
    municipality: str
    return_address: str
    addressee: list[str]
    reference: str
    date: date
    subject: str
    salutation: str
    answer: str
    signature: str
    contact_line: str
    objection_notice: str | None = None


def objection_notice(weeks: int, municipality: str) -> str:
    return (
        f"Bent u het niet eens met dit besluit? Dan kunt u binnen {weeks} weken na de datum van deze brief "
        f"bezwaar maken bij het college van burgemeester en wethouders van de {municipality.lower()}. "
        "Schrijf in uw bezwaar uw naam en adres, de datum, het referentienummer van deze brief en waarom u het "
        "er niet mee eens bent, en zet uw handtekening eronder."
    )


def render_pdf(letter: Letter) -> bytes:
    """The letter on one or more A4 pages: letterhead, address, reference and date, the answer,
    signature, the objection notice where one applies, and how to reach us."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(25, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=25)
    pdf.set_title(_latin1(f"{letter.subject} ({letter.reference})"))
    pdf.set_author(_latin1(letter.municipality))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _latin1(letter.municipality), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(0, 5, _latin1(letter.return_address), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font("Helvetica", "", 11)
    for line in letter.addressee:
        pdf.cell(0, 5.5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font("Helvetica", "", 9)
    for label, value in (("Datum", dutch_date(letter.date)), ("Ons kenmerk", letter.reference), ("Onderwerp", letter.subject)):
        pdf.cell(30, 5, label)
        pdf.cell(0, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 5.5, _latin1(letter.salutation), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for paragraph in re.split(r"\n\s*\n", letter.answer.strip()):
        pdf.multi_cell(0, 5.5, _latin1(paragraph.strip()), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.ln(4)
    pdf.multi_cell(0, 5.5, "Met vriendelijke groet,", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.multi_cell(0, 5.5, _latin1(letter.signature), new_x="LMARGIN", new_y="NEXT")
    if letter.objection_notice:
        pdf.ln(8)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 5, "Bezwaar maken", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, _latin1(letter.objection_notice), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(0, 4, _latin1(f"Vragen? Noem ons kenmerk {letter.reference}. {letter.contact_line}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
