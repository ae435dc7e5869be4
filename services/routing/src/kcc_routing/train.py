"""`python -m kcc_routing.train`: fit the ranker on the train messages (`evaluate.training_messages`:
the train parts of the labelled sets and the written batches).

No test, hard or fresh message is read here. The product head (head.py) is fitted five times,
each time without one fold of the train messages, and once on all of them (data/head.npz).
Each train message is scored with its own example left out (it must not find itself) and the
head of the fold it was left out of, the ranker (linear part and hidden layer,
`ranker.fit`) is fitted listwise, the English temperature is fitted on the English messages'
5-fold out-of-fold scores, and the triage threshold is set from those cross-validated
confidences: the lowest confidence at which the contacts routed without a person are right
at least `--precision` of the time. Writes data/ranker.json, data/head.npz (and
data/embeddings.npz).
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from kcc_routing.classify import Classifier, build_lexical, build_semantic, without_identifiers
from kcc_routing.evaluate import load_about_nothing, nothing_split, training_messages
from kcc_routing.head import HEAD_FILE, fit_head, save_head
from kcc_routing.ranker import Ranker, fit, softmax, temperature
from kcc_routing.semantic import CachedEncoder, is_english
from kcc_routing.subject import SUBJECT_FILE, fit_gate, gate_features

RANKER_FILE = Path(__file__).parent / "data" / "ranker.json"
EMBEDDINGS_FILE = Path(__file__).parent / "data" / "embeddings.npz"
FOLDS = 5


def fold_heads(classifier: Classifier, messages: list[dict]) -> list[np.ndarray]:
    """A product head per fold, each fitted on every example vector but that fold's train
    messages (message i is in fold i % FOLDS; the stand-in examples are in none)."""
    vectors, owners = classifier.semantic.example_vectors()
    products = len(classifier.semantic.uris)
    heads = []
    for k in range(FOLDS):
        keep = np.asarray([i for i in range(len(vectors)) if i >= len(messages) or i % FOLDS != k])
        heads.append(fit_head(vectors[keep], owners[keep], products))
    return heads


def training_groups(
    classifier: Classifier, messages: list[dict], heads: list[np.ndarray]
) -> tuple[list[tuple[np.ndarray, int]], list[bool], int, list[int]]:
    """(features, index of the label) per message whose label is among the candidates, whether
    each is English, how many messages are left out (label not among the candidates), and each
    kept message's length in words (for the subject gate).
    `heads` are `fold_heads`: each message is scored by the one that did not learn from it."""
    groups, english, missing, words = [], [], 0, []
    column = {uri: i for i, uri in enumerate(classifier.semantic.uris)}
    for i, message in enumerate(messages):
        cols, features = classifier.features(message["text"], exclude_example=i, head=heads[i % FOLDS])
        label = column[message["upl_uri"]]
        if label in cols:
            groups.append((features, cols.index(label)))
            english.append(is_english(message["text"]))
            words.append(len(without_identifiers(message["text"]).split()))
        else:
            missing += 1
    return groups, english, missing, words


def threshold(
    groups: list[tuple[np.ndarray, int]], english: list[bool], *, precision: float, folds: int = 5
) -> tuple[float, float, float, float, list[np.ndarray]]:
    """From out-of-fold scores: the English temperature, the triage threshold, the out-of-fold
    accuracy and triage rate, and each group's out-of-fold probabilities."""
    scored: list[np.ndarray] = [np.zeros(0)] * len(groups)
    for k in range(folds):
        ranker = fit([g for i, g in enumerate(groups) if i % folds != k])
        for i, (features, _) in enumerate(groups):
            if i % folds == k:
                scored[i] = ranker.scores(features)
    t = temperature([(z, label) for z, (_, label), en in zip(scored, groups, english, strict=True) if en])
    probabilities = [softmax(z / (t if en else 1.0)) for z, en in zip(scored, english, strict=True)]
    confidences = [float(p.max()) for p in probabilities]
    right = [int(np.argmax(p)) == label for p, (_, label) in zip(probabilities, groups, strict=True)]
    order = np.argsort(confidences)[::-1]
    best = 1.0
    routed_right = 0
    for n, i in enumerate(order, 1):
        routed_right += right[i]
        if routed_right / n >= precision:
            best = confidences[i]
    accuracy = float(np.mean(right))
    triaged = float(np.mean([c < best for c in confidences]))
    return t, best, accuracy, triaged, probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--precision", type=float, default=0.92, help="accuracy wanted among contacts routed without triage")
    args = parser.parse_args()
    started = time.perf_counter()
    train = training_messages()
    classifier = Classifier(
        lexical=build_lexical(),
        semantic=build_semantic([(m["upl_uri"], m["text"]) for m in train]),
        ranker=Ranker(np.zeros(1), np.zeros(1), np.ones(1), 0.0),  # not used while training
    )
    vectors, owners = classifier.semantic.example_vectors()
    head = fit_head(vectors, owners, len(classifier.semantic.uris))
    save_head(RANKER_FILE.parent / HEAD_FILE, head, uris=classifier.semantic.uris)
    groups, english, missing, words = training_groups(classifier, train, fold_heads(classifier, train))
    english_temperature, triage_below, accuracy, triaged, out_of_fold = threshold(groups, english, precision=args.precision)
    ranker = dataclasses.replace(fit(groups, triage_below=triage_below), english_temperature=english_temperature)
    # The subject gate: train messages as scored out of fold, against the learnt half of the
    # messages about nothing, scored as the service will score them.
    positives = np.stack([gate_features(f, p, n) for (f, _), p, n in zip(groups, out_of_fold, words, strict=True)])
    negatives = []
    for message in (m for m in load_about_nothing() if nothing_split(m["text"]) == "train"):
        text = without_identifiers(message["text"])
        _, features = classifier.features(message["text"], head=head)
        negatives.append(gate_features(features, ranker.probabilities(features, english=is_english(text)), len(text.split())))
    gate = fit_gate(positives, np.stack(negatives))
    (RANKER_FILE.parent / SUBJECT_FILE).write_text(gate.to_json() + "\n", encoding="utf-8")
    RANKER_FILE.write_text(
        ranker.to_json(trained_on=f"{len(groups)} train messages ({missing} without their label among the candidates)")
        + "\n",
        encoding="utf-8",
    )
    encoder = classifier.semantic.encoder
    if isinstance(encoder, CachedEncoder):  # ship the vectors, so the service starts quickly
        encoder.save(EMBEDDINGS_FILE, texts=classifier.semantic.texts)
    print(f"train messages: {len(train)}, label among candidates: {len(groups)}")
    print(f"5-fold top-1 on train: {accuracy:.1%}; triage below {triage_below:.3f} sends {triaged:.1%} to triage")
    print(f"English scores divided by {english_temperature:.2f} ({sum(english)} English train messages)")
    print(f"subject gate: {len(negatives)} messages about nothing learnt from, threshold {gate.threshold:.3f}")
    print(f"written {RANKER_FILE}, {HEAD_FILE} and {SUBJECT_FILE} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
