"""Benchmark: how fast routing classifies a citizen's message (POST /v1/classify's work).

Prints the start-up time of the classifier (UPL, product knowledge, encoder, shipped vectors),
p50/p95 latency for one 200-word message at a time (the request, from the test part, after
paragraphs of context as in a long e-mail; a different message each time), and batch
throughput in messages/s over the test-part messages (whose vectors are not shipped), one
after another in this one process.
Figures are medians of `--rounds`; targets from issue 16: p95 < 50 ms, >= 100 messages/s.

    uv run python benchmarks/classify.py [--rounds 3] [--messages 200]

Needs no stack: the classifier runs in-process, as it does inside the routing service.
"""

import argparse
import random
import statistics
import time

from kcc_routing.classify import default_classifier
from kcc_routing.evaluate import load_labelled, load_messages, split_of

CONTEXT = (
    "Ik woon nu ongeveer acht jaar in de stad, eerst in de Oosterpoort en sinds twee jaar in een huurwoning in Paddepoel. "
    "Mijn kinderen gaan hier naar school en wij hebben het erg naar ons zin in de buurt. "
    "Vorig jaar is er veel veranderd, mijn partner heeft een nieuwe baan gekregen buiten de stad en ik werk zelf parttime. "
    "Ik heb al eerder geprobeerd op de website iets te vinden maar ik kwam er niet goed uit, vandaar deze mail. "
    "Een buurvrouw zei dat ik het beste gewoon even kon schrijven omdat het telefonisch vaak druk is. "
    "Ik hoop dat u mij verder kunt helpen want ik weet eerlijk gezegd niet goed waar ik moet beginnen. "
)


def long_messages(n: int) -> list[str]:
    """n messages of about 200 words: context first, a labelled message's request last."""
    rng = random.Random(16)
    requests = [m["text"] for m in load_labelled() if m["split"] == "test"]
    context = CONTEXT.split(". ")
    out = []
    for _ in range(n):
        request = rng.choice(requests)
        words: list[str] = []
        while len(words) + len(request.split()) < 200:
            words += (rng.choice(context).rstrip(".") + ".").split()
        out.append(" ".join(["Geachte heer/mevrouw,", *words, request]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=200, help="200-word messages per latency round")
    args = parser.parse_args()

    started = time.perf_counter()
    classifier = default_classifier()
    classifier.rank("paspoort verlopen")  # first call loads the encoder's weights
    print(f"start-up (classifier built, encoder loaded): {time.perf_counter() - started:.1f} s")

    # Wall-clock figures suffer when other processes share the cores; CPU time does not, so
    # both are printed (CPU time counts every thread of the process, so it is the stricter one).
    p50s, p95s, cpu50s, cpu95s = [], [], [], []
    for r in range(args.rounds):
        texts = long_messages(args.messages)
        times, cpu = [], []
        for text in texts:
            t, c = time.perf_counter(), time.process_time()
            classifier.rank(text, limit=5)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        times.sort()
        cpu.sort()
        p50s.append(statistics.median(times))
        p95s.append(times[int(0.95 * (len(times) - 1))])
        cpu50s.append(statistics.median(cpu))
        cpu95s.append(cpu[int(0.95 * (len(cpu) - 1))])
    words = statistics.mean(len(t.split()) for t in long_messages(args.messages))
    print(
        f"200-word message ({words:.0f} words on average), one at a time: p50 {statistics.median(p50s):.1f} ms  "
        f"p95 {statistics.median(p95s):.1f} ms  (CPU time: p50 {statistics.median(cpu50s):.1f} ms  p95 {statistics.median(cpu95s):.1f} ms)"
    )

    # Test-part messages only: the train part's segments ship as known vectors and would flatter.
    batch = [m["text"] for m in load_labelled() if m["split"] == "test"] + [m["text"] for m in load_messages() if split_of(m["text"]) == "test"]
    rates, cpu_rates = [], []
    for _ in range(args.rounds):
        t, c = time.perf_counter(), time.process_time()
        for text in batch:
            classifier.rank(text, limit=5)
        rates.append(len(batch) / (time.perf_counter() - t))
        cpu_rates.append(len(batch) / (time.process_time() - c))
    print(
        f"batch of {len(batch)} test-part messages (all lengths and channels), one process: "
        f"{statistics.median(rates):.0f} messages/s wall clock, {statistics.median(cpu_rates):.0f} per CPU-second"
    )


if __name__ == "__main__":
    main()
