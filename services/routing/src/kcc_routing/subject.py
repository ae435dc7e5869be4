"""Is the message about anything? A gate in front of routing on a guess.

The ranker's softmax weighs the candidates against each other, so a message about no product
at all ("ok bedankt", "ik wil graag iemand spreken") still gets a product, often a confident
one. The gate is a logistic regression over how strongly anything matched: the best lexical
score, the best similarities (segment, request, whole text, labelled example), the nearest
examples' best vote, the product head's best log-probability, the ranker's top probability,
and the length. It learns from the train messages (positives, scored as in training: each
left out of the examples and scored by the head of its fold) and the train half of the
messages about nothing (data/evaluation/nothing.jsonl; the other half is a test never learnt
from). Its threshold keeps `KEEP` of the train messages; a message below it goes to triage.
"""

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from kcc_routing.ranker import FEATURES

SUBJECT_FILE = "subject.json"
MATCHES = ("lex_log", "sem_best", "sem_request", "sem_whole", "example", "vote", "head")
GATE_FEATURES = (*MATCHES, "top_probability", "log_words")
KEEP = 0.99  # of the train messages, measured out of fold: 1% of real messages cost an agent's look


def gate_features(features: np.ndarray, probabilities: np.ndarray, words: int) -> np.ndarray:
    """One row per message from its candidates' features (ranker.FEATURES) and probabilities."""
    columns = [FEATURES.index(name) for name in MATCHES]
    return np.asarray([*features[:, columns].max(axis=0), float(probabilities.max()), math.log1p(words)])


@dataclass(frozen=True)
class Gate:
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float

    def probability(self, row: np.ndarray) -> float:
        """How likely the message is about some product (the gate's score, 0..1)."""
        z = float(((row - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def has_subject(self, row: np.ndarray) -> bool:
        return self.probability(row) >= self.threshold

    def to_json(self) -> str:
        return json.dumps({
            "features": list(GATE_FEATURES), "weights": [round(float(w), 6) for w in self.weights], "bias": round(self.bias, 6),
            "mean": [round(float(m), 6) for m in self.mean], "scale": [round(float(s), 6) for s in self.scale],
            "threshold": round(self.threshold, 6),
        }, indent=1)


def fit_gate(positives: np.ndarray, negatives: np.ndarray, *, steps: int = 3000, l2: float = 1e-3) -> Gate:
    """Logistic regression, both classes weighing half (there are far fewer negatives), then the
    threshold that keeps KEEP of the positives."""
    x = np.vstack([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):  # full-batch gradient descent: nine features, a smooth convex loss
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        g = (p - y) * weight
        w -= 0.1 * (z.T @ g / len(y) + l2 * w)
        b -= 0.1 * float(g.mean())
    gate = Gate(weights=w, bias=b, mean=mean, scale=scale, threshold=0.0)
    scores = np.asarray([gate.probability(row) for row in positives])
    return Gate(weights=w, bias=b, mean=mean, scale=scale, threshold=float(np.quantile(scores, 1.0 - KEEP)))


def parse_gate(text: str) -> Gate:
    data = json.loads(text)
    if tuple(data["features"]) != GATE_FEATURES:
        raise ValueError("data/subject.json was fitted on other features: run python -m kcc_routing.train")
    return Gate(
        weights=np.asarray(data["weights"]), bias=float(data["bias"]), mean=np.asarray(data["mean"]),
        scale=np.asarray(data["scale"]), threshold=float(data["threshold"]),
    )


@cache
def load_gate() -> Gate:
    """The gate shipped with the service (data/subject.json)."""
    return parse_gate((resources.files("kcc_routing") / "data" / SUBJECT_FILE).read_text(encoding="utf-8"))
