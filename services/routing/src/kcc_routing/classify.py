"""Classification: free text → ranked UPL products with scores.

Each product is described by its UPL name, the words citizens use for it (data/keywords.json)
and the questions of its kennisbank items. Terms are weighted by field and by how specific
they are (inverse document frequency over products); a query term counts with the certainty
of its match (exact, fuzzy, or as part of a compound), and a keyword phrase found whole in the
text adds a bonus, so "oud papier" beats "papier" alone.
"""

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from kcc_routing.knowledge import KnowledgeItem, load_knowledge
from kcc_routing.taxonomy import Product, Taxonomy, load_keywords, load_taxonomy
from kcc_routing.text import Vocabulary, idf, terms

NAME_WEIGHT, KEYWORD_WEIGHT, QUESTION_WEIGHT = 3.0, 2.5, 1.0
PHRASE_BONUS = 0.6
# Below this raw score no product is "recognised": the text says too little.
RECOGNISED_AT = 2.5


@dataclass(frozen=True)
class Candidate:
    product: Product
    score: float  # 0..1, comparable across texts
    raw: float


class Classifier:
    """Ranks the taxonomy's products for a text."""

    def __init__(self, *, taxonomy: Taxonomy, keywords: dict[str, list[str]], knowledge: list[KnowledgeItem]) -> None:
        self.taxonomy = taxonomy
        self._weights: dict[str, dict[str, float]] = defaultdict(dict)  # uri -> term -> weight
        self._phrases: dict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        for product in taxonomy.products:
            self._add(product.uri, product.name, NAME_WEIGHT)
        for name, phrases in keywords.items():
            product = taxonomy.resolve(name)
            for phrase in phrases:
                self._add(product.uri, phrase, KEYWORD_WEIGHT)
        for item in knowledge:
            self._add(item.upl_uri, item.question, QUESTION_WEIGHT, phrase=False)
        self.vocabulary = Vocabulary({t for weights in self._weights.values() for t in weights})
        self._split_compounds()
        frequency: dict[str, int] = defaultdict(int)
        for weights in self._weights.values():
            for term in weights:
                frequency[term] += 1
        self._idf = {term: idf(n, len(self._weights)) for term, n in frequency.items()}

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
        return found

    def rank(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """The best products for a text, best first; empty when nothing is recognised."""
        found = self.query_terms(text)
        scores: dict[str, float] = defaultdict(float)
        for uri, weights in self._weights.items():
            for term, certainty in found.items():
                if term in weights:
                    scores[uri] += certainty * weights[term] * self._idf[term]
            for words, weight in self._phrases[uri]:
                if all(w in found for w in words):
                    scores[uri] += PHRASE_BONUS * weight * sum(self._idf[w] for w in words)
        ranked = sorted(((s, uri) for uri, s in scores.items() if s >= RECOGNISED_AT), key=lambda x: (-x[0], x[1]))
        return [
            Candidate(product=self.taxonomy.by_uri(uri), score=round(raw / (raw + 10.0), 3), raw=raw)  # type: ignore[arg-type]
            for raw, uri in ranked[:limit]
        ]


@cache
def default_classifier() -> Classifier:
    """The classifier over the shipped UPL, keywords and kennisbank (built once, ~1 s)."""
    return Classifier(taxonomy=load_taxonomy(), keywords=load_keywords(), knowledge=load_knowledge().items)
