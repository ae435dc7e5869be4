"""The kennisbank: question-answer items (VAC's) per UPL product, searchable with typos."""

import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources

from kcc_routing.taxonomy import load_keywords, load_taxonomy
from kcc_routing.text import Vocabulary, idf, terms


@dataclass(frozen=True)
class KnowledgeItem:
    id: str
    upl_uri: str
    upl_name: str
    question: str
    answer: str


@dataclass(frozen=True)
class Hit:
    item: KnowledgeItem
    score: float


class KnowledgeBase:
    """Items indexed on their question and product name (weight 2), the words citizens use
    for the product (1.5) and the answer (1)."""

    def __init__(self, items: list[KnowledgeItem], *, synonyms: dict[str, list[str]] | None = None) -> None:
        self.items = items
        self._index: list[dict[str, float]] = []
        for item in items:
            weights: dict[str, float] = defaultdict(float)
            for term in terms(item.answer):
                weights[term] = max(weights[term], 1.0)
            for term in terms(" ".join((synonyms or {}).get(item.upl_uri, []))):
                weights[term] = max(weights[term], 1.5)
            for term in terms(item.upl_name) + terms(item.question):
                weights[term] = 2.0
            self._index.append(dict(weights))
        self.vocabulary = Vocabulary({t for weights in self._index for t in weights})
        for weights in self._index:
            for term, weight in list(weights.items()):
                for part in self.vocabulary.parts(term):
                    weights.setdefault(part, weight * 0.5)
        frequency: dict[str, int] = defaultdict(int)
        for weights in self._index:
            for term in weights:
                frequency[term] += 1
        self._idf = {term: idf(n, len(items)) for term, n in frequency.items()}

    def search(self, query: str, *, limit: int = 10, upl_uri: str | None = None) -> list[Hit]:
        """Items that answer the query, best first (typing and OCR errors tolerated)."""
        found: dict[str, float] = {}
        for word in terms(query):
            for term, certainty in self.vocabulary.match(word):
                found[term] = max(found.get(term, 0.0), certainty)
        if not found:
            return []
        # Rare words weigh most (squared idf), and an item that covers more of the query's
        # words ranks higher (coordination), so "ratten in de tuin" is about the rats.
        best = sum(self._idf[t] ** 2 * 2.0 for t in found) or 1.0
        hits = []
        for item, weights in zip(self.items, self._index, strict=True):
            if upl_uri and item.upl_uri != upl_uri:
                continue
            matched = [t for t in found if t in weights]
            raw = sum(found[t] * weights[t] * self._idf[t] ** 2 for t in matched) * len(matched) / len(found)
            if raw > 0:
                hits.append(Hit(item=item, score=round(min(raw / best, 1.0), 3)))
        hits.sort(key=lambda h: (-h.score, h.item.id))
        return hits[:limit]


# The placeholders intake fills in when an answer is sent (kcc_intake.replies.PLACEHOLDERS).
PLACEHOLDERS = {
    "naam": "the citizen's name as the agent gives it (default: heer, mevrouw)",
    "referentie": "the contact's reference (KCC-7F3A-2B9E)",
    "ontvangen": "the day the contact came in (7 december 2026)",
    "datum": "the day the answer goes out",
}


def reply_templates(knowledge: KnowledgeBase, *, upl_uri: str) -> list[dict[str, str]]:
    """Answer building blocks for one UPL product: each kennisbank item as the start of a reply,
    with placeholders intake fills in, so an agent begins from a checked answer."""
    return [
        {
            "template_id": f"reply-{item.id}", "upl_uri": item.upl_uri, "upl_name": item.upl_name, "question": item.question,
            "subject": f"Uw vraag over {item.upl_name} ({{referentie}})",
            "text": (
                "Beste {naam},\n\n"
                f"Op {{ontvangen}} stelde u ons een vraag over {item.upl_name}. Hier is ons antwoord.\n\n"
                f"{item.answer}\n\n"
                "Heeft u nog een vraag? Bel 14 050 en noem uw referentienummer {referentie}."
            ),
        }
        for item in knowledge.items
        if item.upl_uri == upl_uri
    ]


def parse_knowledge(data: dict, *, synonyms: dict[str, list[str]] | None = None) -> KnowledgeBase:
    return KnowledgeBase([KnowledgeItem(**item) for item in data["items"]], synonyms=synonyms)


@cache
def load_knowledge() -> KnowledgeBase:
    """The default kennisbank shipped with the service, with the products' synonyms."""
    taxonomy = load_taxonomy()
    synonyms = {taxonomy.resolve(name).uri: phrases for name, phrases in load_keywords().items()}
    path = resources.files("kcc_routing") / "data" / "knowledge.json"
    return parse_knowledge(json.loads(path.read_text(encoding="utf-8")), synonyms=synonyms)
