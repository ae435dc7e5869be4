"""Classification: free text → ranked UPL products with calibrated scores.

Two views of a text are combined:

- **Words** (`Lexical`): each product is described by its UPL name, the words citizens use for
  it (data/keywords.json, and the synonyms and phrasings in data/products.json) and the
  questions of its kennisbank items. Terms are weighted by field and by how specific they are
  (inverse document frequency over products); a query term counts with the certainty of its
  match (exact, fuzzy, or as part of a compound), and a phrase found whole adds a bonus, so
  "oud papier" beats "papier" alone. Typing and OCR errors are forgiven (text.py).
- **Meaning** (semantic.py): a multilingual sentence encoder compares the text's segments
  with each product's description, synonyms and phrasings, and with labelled messages.

The ranker (ranker.py) turns both into one probability per candidate product; its top
probability is the confidence, and below `triage_below` a person should look first.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import numpy as np

from kcc_routing.head import load_head
from kcc_routing.knowledge import KnowledgeItem, load_knowledge
from kcc_routing.ranker import Ranker, candidates, load_ranker
from kcc_routing.semantic import SemanticIndex, default_encoder, is_english, segments
from kcc_routing.subject import Gate, gate_features, load_gate
from kcc_routing.taxonomy import (
    Product, ProductKnowledge, Taxonomy, load_catalogue_messages, load_english, load_keywords, load_products, load_taxonomy,
)
from kcc_routing.text import STOPWORDS, Vocabulary, canon, fold, idf, stem, terms

NAME_WEIGHT, KEYWORD_WEIGHT, QUESTION_WEIGHT, DESCRIPTION_WEIGHT = 3.0, 2.5, 1.5, 1.0
PHRASE_BONUS = 0.6
SPLIT_COMPOUND_CERTAINTY = 0.9  # a compound written apart, joined again (Lexical.split_compounds)
_RAW_WORD = re.compile(r"[a-z0-9]+")
# Below this raw score no product is recognised by its words: the text says too little.
RECOGNISED_AT = 2.5
# ... and below this similarity nothing is recognised by its meaning either ("hallo daar").
MEANING_RECOGNISED_AT = 0.45


# Intake replaces identifiers with [bsn], [telefoon], [e-mail]. Giving one's BSN or phone number
# ("mijn BSN is [bsn], bel me op [telefoon]") is not a question about the BSN or the phone: the
# phrase goes before classifying, and so do the placeholders themselves.
_IDENTIFIER = re.compile(
    r"(\b(mijn|my|ons|our)\s+)?\b(bsn|burgerservicenummer|sofinummer|telefoonnummer|telefoon|mobiel|nummer|"
    r"e-?mail(adres)?|mailadres|mail|phone( number)?|number)\s*(is|:|=)?\s*\[(bsn|telefoon|e-mail)\]"
    r"|\b(bel|bellen|mail|mailen|app|of)\s+((me|mij|ons|u)\s+)?((terug\s+)?(op|naar|via|at|on)\s+)?"
    r"(0\d{1,3}\s*-?\s*)?\[(telefoon|e-mail)\]"
    r"|(0\d{1,3}\s*-?\s*)?\[(bsn|telefoon|e-mail)\]",
    re.IGNORECASE,
)


# A reference code the text names ("Kenmerk AB-1234", "zaaknummer: Z2025-77") says nothing about
# the subject, also where the citizen repeats it elsewhere ("Bijstand AB-1234 ..." as a subject):
# every occurrence goes. A code has a digit, or is the one word after the label before the
# sentence ends ("Kenmerk qzvhkramedbt."; not "het kenmerk van de woning").
_REFERENCE = re.compile(
    r"\b(kenmerk|referentie|referentienummer|ref|dossiernummer|zaaknummer|klantnummer|reference|case number)"
    r"\s*(nr\.?|nummer)?\s*[:.]?\s*((?=[A-Za-z/_-]*[0-9])[A-Za-z0-9][A-Za-z0-9/_-]{3,}|[A-Za-z]{4,}(?=\s*([.,;!?)]|$)))",
    re.IGNORECASE,
)


def without_identifiers(text: str) -> str:
    """The text without intake's identifier placeholders and the phrases that give them, and
    without the reference codes it names."""
    for match in _REFERENCE.finditer(text):
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(match.group(3))}(?![A-Za-z0-9])", " ", text)
    return _IDENTIFIER.sub(" ", text)


@dataclass(frozen=True)
class Candidate:
    product: Product
    score: float  # 0..1, comparable across texts: the ranker's probability that this is it
    raw: float  # the lexical score
    subject: bool = True  # the subject gate found the text about some product (subject.py)


class Lexical:
    """Scores the taxonomy's products by the words of a text."""

    def __init__(
        self,
        *,
        taxonomy: Taxonomy,
        keywords: dict[str, list[str]],
        knowledge: list[KnowledgeItem],
        products: dict[str, ProductKnowledge] | None = None,
        question_weight: float = QUESTION_WEIGHT,
        join_split_compounds: bool = True,
    ) -> None:
        self.taxonomy = taxonomy
        self._join_split_compounds = join_split_compounds
        self._weights: dict[str, dict[str, float]] = defaultdict(dict)  # uri -> term -> weight
        self._phrases: dict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        for product in taxonomy.products:
            self._add(product.uri, product.name, NAME_WEIGHT)
        for name, phrases in keywords.items():
            product = taxonomy.resolve(name)
            for phrase in phrases:
                self._add(product.uri, phrase, KEYWORD_WEIGHT)
        for item in knowledge:
            self._add(item.upl_uri, item.question, question_weight, phrase=False)
        for uri, info in (products or {}).items():
            for phrase in info.synonyms:
                self._add(uri, phrase, KEYWORD_WEIGHT)
            for phrase in info.phrasings:
                self._add(uri, phrase, question_weight, phrase=False)
            self._add(uri, info.description, DESCRIPTION_WEIGHT, phrase=False)
        self.vocabulary = Vocabulary({t for weights in self._weights.values() for t in weights})
        self._split_compounds()
        frequency: dict[str, int] = defaultdict(int)
        for weights in self._weights.values():
            for term in weights:
                frequency[term] += 1
        self._idf = {term: idf(n, len(self._weights)) for term, n in frequency.items()}
        # term -> (product, weight): a text's terms meet only the products that have them
        self._postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for uri, weights in self._weights.items():
            for term, weight in weights.items():
                self._postings[term].append((uri, weight))

    def _add(self, uri: str, text: str, weight: float, *, phrase: bool = True) -> None:
        words = terms(text)
        for term in words:
            self._weights[uri][term] = max(self._weights[uri].get(term, 0.0), weight)
        if phrase and len(words) > 1:
            self._phrases[uri].append((tuple(words), weight))

    def _split_compounds(self) -> None:
        """Let "afvalcontainer" also say "afval" and "container", at a lower weight."""
        for weights in self._weights.values():
            for term, weight in list(weights.items()):
                for part in self.vocabulary.parts(term):
                    weights.setdefault(part, weight * 0.5)

    def query_terms(self, text: str) -> dict[str, float]:
        """Vocabulary terms a text mentions, with the certainty of each match."""
        found: dict[str, float] = {}
        for word in terms(text):
            for term, certainty in self.vocabulary.match(word):
                found[term] = max(found.get(term, 0.0), certainty)
        for term in self.split_compounds(text) if self._join_split_compounds else ():
            found[term] = max(found.get(term, 0.0), SPLIT_COMPOUND_CERTAINTY)
        return found

    def split_compounds(self, text: str) -> set[str]:
        """Known compounds written as two or three words, as speech-to-text and many writers
        do ("rij bewijs", "afval stoffen heffing", "uit treksel"): the words joined, when that
        is a vocabulary term of at least 8 letters."""
        words = _RAW_WORD.findall(fold(text))
        found = set()
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                # The last word must be a word of its own: "overleden en" is no "overledenen".
                if len(words[i + n - 1]) < 3 or words[i + n - 1] in STOPWORDS:
                    continue
                joined = "".join(words[i : i + n])
                if len(joined) >= 8 and (term := stem(canon(joined))) in self.vocabulary.words:
                    found.add(term)
        return found

    def scores(self, text: str) -> dict[str, float]:
        """Raw lexical score per product the text mentions anything of."""
        found = self.query_terms(text)
        scores: dict[str, float] = defaultdict(float)
        for term, certainty in found.items():
            for uri, weight in self._postings.get(term, ()):
                scores[uri] += certainty * weight * self._idf[term]
        # A phrase can only be found whole in a product the text already mentions a word of.
        for uri in list(scores):
            for words, weight in self._phrases[uri]:
                if all(w in found for w in words):
                    scores[uri] += PHRASE_BONUS * weight * sum(self._idf[w] for w in words)
        return dict(scores)

    def rank(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """The best products by words alone, best first; empty when nothing is recognised."""
        ranked = sorted(((s, uri) for uri, s in self.scores(text).items() if s >= RECOGNISED_AT), key=lambda x: (-x[0], x[1]))
        return [
            Candidate(product=self.taxonomy.by_uri(uri), score=round(raw / (raw + 10.0), 3), raw=raw)  # type: ignore[arg-type]
            for raw, uri in ranked[:limit]
        ]


def product_texts(taxonomy: Taxonomy, products: dict[str, ProductKnowledge]) -> dict[str, list[str]]:
    """What the encoder reads per product: name, name with description, synonyms, phrasings."""
    texts: dict[str, list[str]] = {}
    for product in taxonomy.products:
        info = products.get(product.uri)
        texts[product.uri] = [product.name] + (
            # English phrasings are left out: the encoder puts any two English texts closer than
            # an English and a Dutch one with the same meaning, so they would attract every
            # English message. English is met through the Dutch texts (the encoder is
            # multilingual) and the English labelled messages.
            [f"{product.name}: {info.description}", *info.synonyms, *(p for p in info.phrasings if not is_english(p))]
            if info
            else []
        )
    return texts


def english_texts(taxonomy: Taxonomy, products: dict[str, ProductKnowledge]) -> dict[str, list[str]]:
    """What the encoder compares an English text with per product: its English name and
    phrasings (data/products_en.json), the English phrasings of products.json, and the UPL name."""
    english = load_english()
    texts: dict[str, list[str]] = {}
    for product in taxonomy.products:
        info = products.get(product.uri)
        own = [p for p in info.phrasings if is_english(p)] if info else []
        texts[product.uri] = list(dict.fromkeys([product.name, *english.get(product.uri, ()), *own]))
    return texts


class Classifier:
    """Ranks the taxonomy's products for a text by words and meaning, with a confidence."""

    def __init__(self, *, lexical: Lexical, semantic: SemanticIndex, ranker: Ranker, gate: Gate | None = None) -> None:
        self.taxonomy = lexical.taxonomy
        self.lexical, self.semantic, self.ranker, self.gate = lexical, semantic, ranker, gate
        self._uris = semantic.uris

    def features(self, text: str, *, exclude_example: int | None = None, head: np.ndarray | None = None):
        """Candidate columns and their features for a text (also used to train the ranker, with
        the example it is left out and the product head of its fold)."""
        text = without_identifiers(text)
        found = segments(text)
        semantic = self.semantic.scores(found, exclude_example=exclude_example, english=is_english(text), head=head)
        return candidates(self.words(text), semantic, self._uris)

    def words(self, text: str) -> dict[str, float]:
        """The lexical scores, for a Dutch text. An English one is left to the encoder: the
        lexical index is Dutch but for a few products' English words, which would pull every
        English message to those products."""
        return {} if is_english(text) else self.lexical.scores(text)

    def rank(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """The best products for a text, best first; empty when nothing is recognised."""
        text = without_identifiers(text)
        if not text.strip():
            return []
        lexical, english = self.words(text), is_english(text)
        semantic = self.semantic.scores(segments(text), english=english)
        if max(lexical.values(), default=0.0) < RECOGNISED_AT and float(semantic["best"].max()) < MEANING_RECOGNISED_AT:
            return []
        cols, features = candidates(lexical, semantic, self._uris)
        probabilities = self.ranker.probabilities(features, english=english)
        subject = self.gate is None or self.gate.has_subject(gate_features(features, probabilities, len(text.split())))
        order = sorted(range(len(cols)), key=lambda j: (-probabilities[j], self._uris[cols[j]]))[:limit]
        return [
            Candidate(
                product=self.taxonomy.by_uri(self._uris[cols[j]]),  # type: ignore[arg-type]
                score=max(round(float(probabilities[j]), 3), 0.001),  # a candidate is never impossible
                raw=lexical.get(self._uris[cols[j]], 0.0),
                subject=subject,
            )
            for j in order
        ]

    def confident(self, ranked: list[Candidate]) -> bool:
        """Whether the best candidate is sure enough to route on without a person looking, and
        the text is about some product at all."""
        return bool(ranked) and ranked[0].score >= self.ranker.triage_below and ranked[0].subject


def build_lexical() -> Lexical:
    return Lexical(taxonomy=load_taxonomy(), keywords=load_keywords(), knowledge=load_knowledge().items, products=load_products())


def build_semantic(examples: list[tuple[str, str]], *, head: np.ndarray | None = None) -> SemanticIndex:
    taxonomy = load_taxonomy()
    products = load_products()
    return SemanticIndex(
        encoder=default_encoder(),
        uris=[p.uri for p in taxonomy.products],
        product_texts=product_texts(taxonomy, products),
        examples=examples,
        # Every product then has examples, also the rare ones no labelled message is about.
        pseudo_examples=[(uri, phrasing) for uri, info in products.items() for phrasing in info.phrasings]
        + load_catalogue_messages()
        + [(uri, t) for uri, texts in load_english().items() for t in texts[1:]],
        english_texts=english_texts(taxonomy, products),
        head=head,
    )


@cache
def default_classifier() -> Classifier:
    """The classifier over the shipped UPL, product knowledge, kennisbank and the train messages
    (the train parts of the labelled sets and the written batches; built once at start-up, a
    few seconds)."""
    from kcc_routing.evaluate import training_messages  # the labelled messages live with the evaluation

    examples = [(m["upl_uri"], m["text"]) for m in training_messages()]
    head = load_head(tuple(p.uri for p in load_taxonomy().products))
    return Classifier(lexical=build_lexical(), semantic=build_semantic(examples, head=head), ranker=load_ranker(), gate=load_gate())
