"""Dutch-aware, typo- and OCR-tolerant text matching, shared by classification and search.

Pipeline per word: lower-case and strip accents; undo common OCR confusions ("rn" and "ru" read as "m",
"vv"/"w", digits inside words); a light Dutch stemmer (plural -en/-s, -e, doubled final
consonant); then, against a known vocabulary, compound splitting ("afvalcontainer" →
"afval" + "container") and edit-distance matching for typing and OCR errors ("gebmik" →
"gebruik"). Pure Python and deterministic: no model downloads.
"""

import math
import re
import unicodedata
from collections import defaultdict
from functools import lru_cache

STOPWORDS = frozenset(
    """aan al alle als alsjeblieft alstublieft ben ben bent bij dag dan dank dat de den der des deze die
    dit doe doen door dus een eens en er even ga gaan gaat geachte goed goedemiddag goedemorgen
    goedenavond graag groet groeten had heb hebben heeft hem het hier hij hoe hoi hallo hun ik in is
    ja je jij jullie kan kun kunnen kunt leuk maar me meer mee met mevrouw mij mijn mn moet moeten
    na naar niet nog nu of om onder ons onze ook op over per s te tegen toch tot u uit uw van vanaf
    veel voor vraag vragen vriendelijke waar wat we weer wel welke wie wij wil willen word worden
    wordt zal ze zelf zich zij zijn zo zou zonder heer dhr mvr beste m v t a b n w z""".split()
) | frozenset(
    # English, as expats write to us: function words, greetings, and words every such message
    # has ("municipality", "Netherlands"). Few products have English words, so without this
    # their idf is high and "the", "at", "my" pull English messages to those products.
    """a about after all also am an and any are as at be been before but by can could dear did do
    does dutch for from had has have hello hi how i if in into is it its just madam me municipal
    municipality my netherlands no not of on or our please regards should sir so some than thank
    thanks that the their them there these they this those to too us very was we were what when
    where which who why will with would you your""".split()
)

_OCR = (("rn", "m"), ("ru", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("5", "s"), ("ij", "y"))
_SUFFIXES = ("heden", "ingen", "tjes", "jes", "en", "es", "s", "e")
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case without accents ("één" → "een", "coördinatie" → "coordinatie")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def canon(word: str) -> str:
    """One spelling for the usual OCR/typing confusions, applied to query and vocabulary alike."""
    if any(c.isalpha() for c in word):
        for wrong, right in _OCR:
            word = word.replace(wrong, right)
    return word


_SEPARABLE = ("", "op", "af", "uit", "aan", "in", "mee", "terug", "door", "over", "weg", "na", "toe")


def _participle(word: str) -> str:
    """A past participle's stem: "opgehaald" → "ophaal", "gemeld" → "meld"."""
    if len(word) >= 7 and word[-1] in "dt":
        for prefix in _SEPARABLE:
            if word.startswith(prefix + "ge") and len(word) - len(prefix) - 3 >= 4:
                return prefix + word[len(prefix) + 2 : -1]
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light Dutch stemmer: enough to meet "paspoorten"/"paspoort", "aanvragen"/"aanvraag",
    "opgehaald"/"ophalen"."""
    word = _participle(word)
    if word.endswith("heden") and len(word) > 7:
        return word[:-5] + "heid"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]  # "bakken" -> "bakk" -> "bak"
    # open syllables lose a vowel in the plural: "aanvragen" -> "aanvrag" ~ "aanvraag"
    if len(word) > 4 and word[-2] in "aeiou" and word[-3] == word[-2]:
        word = word[:-2] + word[-1]
    return word


def terms(text: str) -> list[str]:
    """The content words of a text, normalised and stemmed."""
    return [stem(canon(w)) for w in _WORD.findall(fold(text)) if w not in STOPWORDS and len(w) > 1]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (adjacent swaps) distance, or limit+1 once it must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _allowed_errors(word: str) -> int:
    return 0 if len(word) <= 4 else 1 if len(word) <= 6 else 2


class Vocabulary:
    """Known terms; maps a query term onto them exactly, by compound parts, or fuzzily."""

    def __init__(self, words: set[str]) -> None:
        self.words = words
        self._bigrams: dict[str, set[str]] = defaultdict(set)
        for word in words:
            for gram in _bigrams(word):
                self._bigrams[gram].add(word)

    def parts(self, word: str) -> list[str]:
        """Known words a compound is made of, e.g. "huisvuilcontainer" → "huisvuil", "container"."""
        found = []
        for i in range(4, len(word) - 3):
            head, tail = word[:i], word[i:]
            tail = tail[1:] if tail[0] == "s" and tail[1:] in self.words else tail  # tussen-s
            if head in self.words and (tail in self.words or stem(tail) in self.words):
                found += [head, tail if tail in self.words else stem(tail)]
        if not found:
            # A known word at either end still says something ("zwerfafval" → "afval").
            for i in range(3, len(word) - 3):
                if word[i:] in self.words and len(word) - i >= 5:
                    found.append(word[i:])
                    break
            for i in range(len(word) - 3, 4, -1):
                if word[:i] in self.words:
                    found.append(word[:i])
                    break
        return found

    @lru_cache(maxsize=65536)
    def match(self, word: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary terms this query term stands for, with how sure we are (0..1)."""
        if word in self.words:
            return ((word, 1.0),)
        fuzzy = self._fuzzy(word)
        if fuzzy:
            return ((fuzzy, 0.8),)
        return tuple((part, 0.7) for part in dict.fromkeys(self.parts(word)))

    def _fuzzy(self, word: str) -> str | None:
        limit = _allowed_errors(word)
        if limit == 0:
            return None
        grams = _bigrams(word)
        counts: dict[str, int] = defaultdict(int)
        for gram in grams:
            for candidate in self._bigrams.get(gram, ()):
                counts[candidate] += 1
        best, best_d = None, limit + 1
        for candidate, shared in counts.items():
            if shared < max(1, len(grams) - 2 * limit - 1) or abs(len(candidate) - len(word)) > limit:
                continue
            d = edit_distance(word, candidate, min(limit, _allowed_errors(candidate)))
            if d < best_d or (d == best_d and best is not None and candidate < best):
                best, best_d = candidate, d
        return best if best_d <= limit else None


def _bigrams(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


def idf(document_frequency: int, documents: int) -> float:
    return math.log(1 + documents / (1 + document_frequency))
