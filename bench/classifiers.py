"""Content classifiers: the inline stage's latency per prompt (the gateway's hot path)
and the deep stage's batched throughput, side by side in one run.

    .venv/bin/python bench/classifiers.py [--prompts 2000]

Prompts are the repository's hand-written examples, measured alone and then mixed with
5% long texts made by joining twenty of them (scored whole and in windows). Targets (issue 8): inline p99 <= 1 ms per prompt; deep
>= 150 prompts/s batched.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from clearance.content.classifier import ContentClassifier

WRITTEN = Path(__file__).resolve().parent.parent / "data" / "classifier" / "written"


def prompts(count: int) -> list[str]:
    texts = [
        json.loads(line)["text"]
        for path in sorted(WRITTEN.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    long = [" ".join(texts[i : i + 20]) for i in range(0, len(texts), 20)]
    mixed = texts + long
    return [mixed[(i * 7919) % len(mixed)] for i in range(count)]  # spread evenly


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def measure(classifier: ContentClassifier, name: str, texts: list[str]) -> None:
    words = sum(len(t.split()) for t in texts) / len(texts)
    inline = []
    for text in texts:
        start = time.perf_counter()
        classifier.inline([text])
        inline.append(time.perf_counter() - start)
    single = []
    for text in texts[:100]:
        start = time.perf_counter()
        classifier.deep([text])
        single.append(time.perf_counter() - start)
    start = time.perf_counter()
    for at in range(0, len(texts), 64):
        classifier.deep(texts[at : at + 64])
    rate = len(texts) / (time.perf_counter() - start)
    print(
        f"{name}: {len(texts)} prompts, {words:.0f} words on average\n"
        f"  inline, one at a time: p50 {percentile(inline, 0.5) * 1e3:.3f} ms, "
        f"p99 {percentile(inline, 0.99) * 1e3:.3f} ms, max {max(inline) * 1e3:.3f} ms\n"
        f"  deep: one at a time p50 {percentile(single, 0.5) * 1e3:.2f} ms; "
        f"batched by 64 {rate:.0f} prompts/s\n"
        f"  inline is {percentile(single, 0.5) / percentile(inline, 0.5):.0f}x faster than "
        f"deep per prompt; batching makes deep {rate * percentile(single, 0.5):.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=2000)
    args = parser.parse_args()
    texts = prompts(args.prompts)
    classifier = ContentClassifier()
    classifier.inline(texts[:50])
    classifier.deep(texts[:8])  # load the embedding model before timing
    print(f"{platform.node()}: Python {platform.python_version()}")
    short = [t for t in texts if len(t.split()) <= 128]
    measure(classifier, "prompts of up to 128 words", short)
    measure(classifier, "with 5% long texts (300-600 words)", texts)


if __name__ == "__main__":
    main()
