"""The ranker: which of the candidate products is it, and how sure are we.

Candidates are the best products by words (lexical score) and by meaning (encoder
similarities to the product's texts and to labelled messages). Each candidate gets a few
features; a linear score over them goes through a softmax over the candidates, so the scores
are probabilities that add up to one. The weights are learnt on the train part of the labelled
messages (data/evaluation/labelled.jsonl) by minimising the cross-entropy of the right
product (listwise logistic regression), which is what makes the top probability a calibrated
confidence. `python -m kcc_routing.train` fits them into data/ranker.json.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

FEATURES = (
    "lex_log",  # log(1 + lexical score)
    "lex_rel",  # lexical score / the best lexical score for this text
    "lex_top",  # 1 for the lexical favourite
    "sem_best",  # best similarity of a segment to the product's texts
    "sem_request",  # best similarity of a request segment
    "sem_whole",  # similarity of the whole text
    "sem_gap",  # sem_best minus the best sem_best of any product (0 for the leader)
    "whole_gap",
    "example",  # similarity to the closest labelled message of this product
    "example_gap",
    "has_example",
    "prior",  # log(1 + labelled train messages about this product): how common it is
    "sem_mean",  # whole-text similarity averaged over all the product's texts
)
PER_SOURCE = 12  # candidates taken from each source


def candidates(lexical: dict[str, float], semantic: dict[str, np.ndarray], uris: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """Columns of the candidate products and their feature matrix (candidates × FEATURES)."""
    n = len(uris)
    lex = np.zeros(n, dtype=np.float32)
    column = {uri: i for i, uri in enumerate(uris)}
    for uri, raw in lexical.items():
        lex[column[uri]] = raw
    best, request, whole, example, prior, top3 = (semantic[k] for k in ("best", "request", "whole", "example", "examples", "mean"))
    chosen: dict[int, None] = {}
    for source in (lex, best, whole, request, example):
        for i in np.argsort(-source, kind="stable")[:PER_SOURCE]:
            if source is not lex or lex[i] > 0:
                chosen[int(i)] = None
    cols = sorted(chosen)
    lex_max = float(lex.max())
    ex_max = float(example.max())
    rows = []
    for i in cols:
        has_example = example[i] > -1.0
        rows.append((
            math.log1p(lex[i]),
            lex[i] / lex_max if lex_max > 0 else 0.0,
            1.0 if lex_max > 0 and lex[i] == lex_max else 0.0,
            best[i],
            request[i],
            whole[i],
            best[i] - best.max(),
            whole[i] - whole.max(),
            example[i] if has_example else 0.0,
            example[i] - ex_max if has_example else -1.0,
            1.0 if has_example else 0.0,
            math.log1p(prior[i]),
            top3[i],
        ))
    return cols, np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Ranker:
    weights: np.ndarray  # one per feature
    mean: np.ndarray  # feature standardisation
    scale: np.ndarray
    triage_below: float  # confidence under which an agent should look first
    # An English text has no lexical evidence, so its scores lie closer together than a Dutch
    # text's: dividing them by this temperature (fitted on the English train messages) keeps
    # its confidence calibrated. The order of the candidates does not change.
    english_temperature: float = 1.0

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The linear score of each candidate."""
        return ((features - self.mean) / self.scale) @ self.weights

    def probabilities(self, features: np.ndarray, *, english: bool = False) -> np.ndarray:
        """Softmax over the candidates: the chance that each is the product asked about."""
        return softmax(self.scores(features) / (self.english_temperature if english else 1.0))

    def to_json(self, **extra: object) -> str:
        return json.dumps(
            {
                "features": list(FEATURES),
                "weights": [round(float(w), 6) for w in self.weights],
                "mean": [round(float(m), 6) for m in self.mean],
                "scale": [round(float(s), 6) for s in self.scale],
                "triage_below": round(self.triage_below, 4),
                "english_temperature": round(self.english_temperature, 4),
                **extra,
            },
            indent=1,
        )


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max())
    return z / z.sum()


def temperature(scored: Sequence[tuple[np.ndarray, int]]) -> float:
    """The temperature that makes these (candidate scores, index of the right one) most likely:
    above 1 softens overconfident scores, below 1 sharpens underconfident ones."""
    if not scored:
        return 1.0
    grid = np.geomspace(0.1, 4.0, 80)
    loss = [-sum(float(np.log(softmax(z / t)[label] + 1e-12)) for z, label in scored) for t in grid]
    return float(grid[int(np.argmin(loss))])


def fit(groups: Sequence[tuple[np.ndarray, int]], *, l2: float = 1e-3, steps: int = 600, triage_below: float = 0.0) -> Ranker:
    """Listwise logistic regression: each group is (candidate features, index of the right one)."""
    stacked = np.concatenate([f for f, _ in groups])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    # Pad the groups into one array (groups × candidates × features), masking the padding.
    width = max(len(f) for f, _ in groups)
    x = np.zeros((len(groups), width, len(FEATURES)))
    mask = np.full((len(groups), width), -np.inf)
    for g, (f, _) in enumerate(groups):
        x[g, : len(f)] = (f - mean) / scale
        mask[g, : len(f)] = 0.0
    labels = np.asarray([y for _, y in groups])
    right = x[np.arange(len(groups)), labels]
    w = np.zeros(len(FEATURES))
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, steps + 1):  # Adam on the full batch: small data, a smooth convex loss
        z = x @ w + mask
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = l2 * w + (np.einsum("gc,gcf->f", p, x) - right.sum(axis=0)) / len(groups)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return Ranker(weights=w, mean=mean, scale=scale, triage_below=triage_below)


def parse_ranker(text: str) -> Ranker:
    data = json.loads(text)
    if tuple(data["features"]) != FEATURES:
        raise ValueError("data/ranker.json was fitted on other features: run python -m kcc_routing.train")
    return Ranker(
        weights=np.asarray(data["weights"]), mean=np.asarray(data["mean"]), scale=np.asarray(data["scale"]),
        triage_below=float(data["triage_below"]), english_temperature=float(data["english_temperature"]),
    )


@cache
def load_ranker() -> Ranker:
    """The ranker shipped with the service (data/ranker.json)."""
    return parse_ranker((resources.files("kcc_routing") / "data" / "ranker.json").read_text(encoding="utf-8"))
