"""The product head: it learns what tells sibling products apart, and the ranker never learns
from a head that saw the message it scores."""

from types import SimpleNamespace

import numpy as np

from kcc_routing.classify import default_classifier
from kcc_routing.head import fit_head, log_probabilities
from kcc_routing.semantic import SemanticIndex
from kcc_routing.train import FOLDS, fold_heads


def siblings(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two products whose n examples each differ in one dimension only (+0.2 for A, -0.2 for B);
    the other dimensions are noise, larger than that difference."""
    noise = rng.normal(0.0, 0.5, (2 * n, 8))
    noise[:, 0] = 1.0
    noise[:n, 1], noise[n:, 1] = 0.2, -0.2
    vectors = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    return vectors.astype(np.float32), np.asarray([0] * n + [1] * n)


def test_the_head_learns_the_direction_that_tells_siblings_apart_where_the_nearest_example_does_not():
    rng = np.random.default_rng(7)
    vectors, owners = siblings(500, rng)
    head = fit_head(vectors, owners, 2)
    # Queries on B's side of that one dimension, each a copy of an A example otherwise.
    wrong_by_nearest = right_by_head = 0
    for a in range(500):
        query = vectors[a].copy()
        query[1] = -query[1]
        query /= np.linalg.norm(query)
        wrong_by_nearest += owners[int(np.argmax(vectors @ query))] == 0
        right_by_head += int(np.argmax(log_probabilities(head, query))) == 1
    assert wrong_by_nearest > 250  # the nearest example is mostly an A (measured: 347 of 500) ...
    assert right_by_head >= 475  # ... the head reads the one dimension that matters (measured: 497)
    assert np.array_equal(head, fit_head(vectors, owners, 2))  # seeded: the same examples, the same head


def test_each_train_message_is_scored_by_a_head_that_never_saw_it():
    rng = np.random.default_rng(3)
    vectors, owners = siblings(40, rng)
    # Product C has one labelled example only: train message 0. The other examples are A's and B's.
    vectors = np.vstack([[0.0, 0.0] + [1.0] * 6, vectors]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.concatenate([[2], owners])
    semantic = SimpleNamespace(uris=["A", "B", "C"], example_vectors=lambda: (vectors, owners))
    messages = [{"upl_uri": "ABC"[o]} for o in owners[:FOLDS * 4]]  # the first 20 are train messages
    heads = fold_heads(SimpleNamespace(semantic=semantic), messages)
    whole = fit_head(vectors, owners, 3)
    # Fitted on it, a head knows message 0 is C; the head message 0 is scored with never met C.
    assert int(np.argmax(log_probabilities(whole, vectors[0]))) == 2
    assert int(np.argmax(log_probabilities(heads[0], vectors[0]))) != 2
    # Every other fold's head learnt from message 0.
    assert all(int(np.argmax(log_probabilities(heads[k], vectors[0]))) == 2 for k in range(1, FOLDS))


def test_the_service_ships_a_head_for_every_product_and_an_index_without_one_scores_zero():
    semantic = default_classifier().semantic
    assert semantic.head is not None and semantic.head.shape == (512, len(semantic.uris))
    logp = log_probabilities(semantic.head, semantic.example_vectors()[0][0])
    assert abs(float(np.exp(logp).sum()) - 1.0) < 1e-3
    bare = SemanticIndex(encoder=SimpleNamespace(encode=lambda texts: np.ones((len(texts), 3), np.float32) / np.sqrt(3)),
                         uris=["A"], product_texts={"A": ["a"]})
    assert bare.scores([])["head"].tolist() == [0.0]
