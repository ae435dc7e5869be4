"""The ranker: which of the candidate products is it, and how sure are we.

Candidates are the best products by words (lexical score) and by meaning (encoder
similarities to the product's texts and to labelled messages). Each candidate gets a few
features; a score over them goes through a softmax over the candidates, so the scores are
probabilities that add up to one. The score is linear in the features plus a small hidden
layer (16 tanh units), so that a feature can count for more or less depending on the others
(a linear score weighs each the same whatever the rest say). Learnt on the train messages
(`evaluate.training_messages`) by minimising the cross-entropy of the right product
(listwise), which is what makes the top probability a calibrated confidence.
`python -m kcc_routing.train` fits them into data/ranker.json.
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
    "sem_mean",  # whole-text similarity averaged over all the product's texts
    "vote",  # the product's weighted share of the 20 labelled examples nearest the text
    "head",  # the product head's log-probability (head.py)
    "head_gap",  # head minus the best head of any product
)
PER_SOURCE = 12  # candidates taken from each source
HIDDEN_UNITS = 16


def candidates(lexical: dict[str, float], semantic: dict[str, np.ndarray], uris: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """Columns of the candidate products and their feature matrix (candidates × FEATURES)."""
    n = len(uris)
    lex = np.zeros(n, dtype=np.float32)
    column = {uri: i for i, uri in enumerate(uris)}
    for uri, raw in lexical.items():
        lex[column[uri]] = raw
    best, request, whole, example, top3, vote, head = (
        semantic[k] for k in ("best", "request", "whole", "example", "mean", "vote", "head")
    )
    chosen: dict[int, None] = {}
    for source in (lex, best, whole, request, example):
        for i in np.argsort(-source, kind="stable")[:PER_SOURCE]:
            if source is not lex or lex[i] > 0:
                chosen[int(i)] = None
    cols = sorted(chosen)
    lex_max = float(lex.max())
    ex_max = float(example.max())
    head_max = float(head.max())
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
            top3[i],
            vote[i],
            head[i],
            head[i] - head_max,
        ))
    return cols, np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Ranker:
    weights: np.ndarray  # one per feature: the linear part
    mean: np.ndarray  # feature standardisation
    scale: np.ndarray
    triage_below: float  # confidence under which an agent should look first
    # An English text has no lexical evidence, so its scores lie closer together than a Dutch
    # text's: dividing them by this temperature (fitted on the English train messages) keeps
    # its confidence calibrated. The order of the candidates does not change.
    english_temperature: float = 1.0
    # The hidden layer: features × units, a bias and an output weight per unit (none: linear only).
    hidden: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None
    hidden_out: np.ndarray | None = None

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The score of each candidate: linear, plus the hidden layer's."""
        x = (features - self.mean) / self.scale
        linear = x @ self.weights
        if self.hidden is None or self.hidden_bias is None or self.hidden_out is None:
            return linear
        return linear + np.tanh(x @ self.hidden + self.hidden_bias) @ self.hidden_out

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
                **(
                    {
                        "hidden": [[round(float(w), 6) for w in row] for row in self.hidden],
                        "hidden_bias": [round(float(b), 6) for b in self.hidden_bias],
                        "hidden_out": [round(float(v), 6) for v in self.hidden_out],
                    }
                    if self.hidden is not None and self.hidden_bias is not None and self.hidden_out is not None
                    else {}
                ),
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


def fit(
    groups: Sequence[tuple[np.ndarray, int]], *, hidden: int = HIDDEN_UNITS, l2: float = 1e-3, steps: int = 1500,
    triage_below: float = 0.0, seed: int = 0,
) -> Ranker:
    """Listwise softmax regression: each group is (candidate features, index of the right one);
    `hidden` tanh units beside the linear part (0: linear only). Full-batch Adam from a seeded
    start, so the same messages give the same ranker."""
    stacked = np.concatenate([f for f, _ in groups])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    # All groups' candidates in one matrix; a group is the rows from its start to the next one's.
    flat = ((stacked - mean) / scale).astype(np.float32)
    n, k = len(groups), len(FEATURES)
    sizes = np.asarray([len(f) for f, _ in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(n), sizes)
    right = np.zeros(len(flat), dtype=np.float32)
    right[starts + np.asarray([y for _, y in groups])] = 1.0
    rng = np.random.default_rng(seed)
    params = {
        "w": np.zeros(k), "hidden": rng.normal(0.0, 0.3, (k, hidden)), "bias": np.zeros(hidden),
        "out": rng.normal(0.0, 0.3, hidden),
    }
    params = {name: p.astype(np.float32) for name, p in params.items()}
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    for step in range(1, steps + 1):  # Adam on the full batch: small data, a smooth loss
        h = np.tanh(flat @ params["hidden"] + params["bias"])  # candidates × units
        z = flat @ params["w"] + h @ params["out"]
        p = np.exp(z - np.maximum.reduceat(z, starts)[owner])  # softmax within each group
        p /= np.add.reduceat(p, starts)[owner]
        dz = (p - right) / n
        dh = np.outer(dz, params["out"]) * (1.0 - h**2)
        grads = {
            "w": flat.T @ dz + l2 * params["w"], "hidden": flat.T @ dh + l2 * params["hidden"],
            "bias": dh.sum(axis=0), "out": h.T @ dz + l2 * params["out"],
        }
        for name, grad in grads.items():
            m, v = moments[name]
            m[:] = 0.9 * m + 0.1 * grad
            v[:] = 0.999 * v + 0.001 * grad**2
            params[name] -= 0.02 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    params = {name: p.astype(np.float64) for name, p in params.items()}
    return Ranker(
        weights=params["w"], mean=mean, scale=scale, triage_below=triage_below,
        hidden=params["hidden"] if hidden else None, hidden_bias=params["bias"] if hidden else None,
        hidden_out=params["out"] if hidden else None,
    )


def parse_ranker(text: str) -> Ranker:
    data = json.loads(text)
    if tuple(data["features"]) != FEATURES:
        raise ValueError("data/ranker.json was fitted on other features: run python -m kcc_routing.train")
    return Ranker(
        weights=np.asarray(data["weights"]), mean=np.asarray(data["mean"]), scale=np.asarray(data["scale"]),
        triage_below=float(data["triage_below"]), english_temperature=float(data["english_temperature"]),
        hidden=np.asarray(data["hidden"]) if "hidden" in data else None,
        hidden_bias=np.asarray(data["hidden_bias"]) if "hidden_bias" in data else None,
        hidden_out=np.asarray(data["hidden_out"]) if "hidden_out" in data else None,
    )


@cache
def load_ranker() -> Ranker:
    """The ranker shipped with the service (data/ranker.json)."""
    return parse_ranker((resources.files("kcc_routing") / "data" / "ranker.json").read_text(encoding="utf-8"))
