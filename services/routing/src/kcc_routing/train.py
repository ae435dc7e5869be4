"""`python -m kcc_routing.train`: fit the ranker on the train part of the labelled messages.

Only messages marked "train" are read; the test part is never seen here. Each train message
is scored with its own example left out (it must not find itself), the weights are fitted by
listwise logistic regression, and the triage threshold is set from 5-fold cross-validated
confidences: the lowest confidence at which the contacts routed without a person are right
at least `--precision` of the time. Writes data/ranker.json.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from kcc_routing.classify import Classifier, build_lexical, build_semantic
from kcc_routing.evaluate import training_messages
from kcc_routing.ranker import Ranker, fit
from kcc_routing.semantic import CachedEncoder

RANKER_FILE = Path(__file__).parent / "data" / "ranker.json"
EMBEDDINGS_FILE = Path(__file__).parent / "data" / "embeddings.npz"


def training_groups(classifier: Classifier, messages: list[dict]) -> tuple[list[tuple[np.ndarray, int]], int]:
    """(features, index of the label) per message whose label is among the candidates; and how many are not."""
    groups, missing = [], 0
    column = {uri: i for i, uri in enumerate(classifier.semantic.uris)}
    for i, message in enumerate(messages):
        cols, features = classifier.features(message["text"], exclude_example=i)
        label = column[message["upl_uri"]]
        if label in cols:
            groups.append((features, cols.index(label)))
        else:
            missing += 1
    return groups, missing


def threshold(groups: list[tuple[np.ndarray, int]], *, precision: float, folds: int = 5) -> tuple[float, float, float]:
    """The triage threshold from out-of-fold confidences; with the out-of-fold accuracy and triage rate."""
    confidences, right = [], []
    for k in range(folds):
        train = [g for i, g in enumerate(groups) if i % folds != k]
        ranker = fit(train)
        for i, (features, label) in enumerate(groups):
            if i % folds == k:
                p = ranker.probabilities(features)
                confidences.append(float(p.max()))
                right.append(int(np.argmax(p)) == label)
    order = np.argsort(confidences)[::-1]
    best = 1.0
    routed_right = 0
    for n, i in enumerate(order, 1):
        routed_right += right[i]
        if routed_right / n >= precision:
            best = confidences[i]
    accuracy = float(np.mean(right))
    triaged = float(np.mean([c < best for c in confidences]))
    return best, accuracy, triaged


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
    groups, missing = training_groups(classifier, train)
    triage_below, accuracy, triaged = threshold(groups, precision=args.precision)
    ranker = fit(groups, triage_below=triage_below)
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
    print(f"written {RANKER_FILE} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
