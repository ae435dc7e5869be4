"""`python -m kcc_routing.evaluate`: top-1 and top-3 accuracy on the labelled messages.

The evaluation set (data/evaluation/messages.jsonl) holds realistic citizen messages per
channel, OCR-damaged letters included, each labelled with the UPL URI a person chose.
"""

import argparse
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources

from kcc_routing.classify import Classifier, default_classifier


@dataclass(frozen=True)
class Result:
    total: int
    top1: int
    top3: int
    per_channel: dict[str, tuple[int, int, int]]  # channel -> (total, top1, top3)
    misses: list[tuple[str, str, list[str]]]

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.total

    @property
    def top3_accuracy(self) -> float:
        return self.top3 / self.total


def load_messages() -> list[dict]:
    path = resources.files("kcc_routing") / "data" / "evaluation" / "messages.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(classifier: Classifier, messages: list[dict]) -> Result:
    """Classify every message and count how often the label is first, or in the first three."""
    top1 = top3 = 0
    per_channel: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    misses = []
    for message in messages:
        ranked = [c.product.uri for c in classifier.rank(message["text"], limit=3)]
        hit1, hit3 = ranked[:1] == [message["upl_uri"]], message["upl_uri"] in ranked
        top1, top3 = top1 + hit1, top3 + hit3
        counts = per_channel[message["channel"]]
        counts[0], counts[1], counts[2] = counts[0] + 1, counts[1] + hit1, counts[2] + hit3
        if not hit1:
            misses.append((message["id"], message["upl_name"], ranked))
    return Result(len(messages), top1, top3, {k: tuple(v) for k, v in per_channel.items()}, misses)  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list messages whose label was not first")
    args = parser.parse_args()
    started = time.perf_counter()
    classifier = default_classifier()
    result = evaluate(classifier, load_messages())
    print(f"messages: {result.total}  ({time.perf_counter() - started:.1f} s)")
    print(f"top-1 accuracy: {result.top1_accuracy:.1%} ({result.top1}/{result.total})")
    print(f"top-3 accuracy: {result.top3_accuracy:.1%} ({result.top3}/{result.total})")
    for channel, (n, t1, t3) in sorted(result.per_channel.items()):
        print(f"  {channel:<7} n={n:<4} top-1 {t1 / n:.1%}  top-3 {t3 / n:.1%}")
    if args.misses:
        for message_id, label, ranked in result.misses:
            names = [classifier.taxonomy.by_uri(u).name for u in ranked]  # type: ignore[union-attr]
            print(f"  miss {message_id}: {label!r} ranked {names}")


if __name__ == "__main__":
    main()
