"""Content classifiers: the inline stage's latency per prompt (the gateway's hot path)
and the deep stage's batched throughput, side by side in one run.

    .venv/bin/python bench/classifiers.py [--prompts 2000]

Prompts are the repository's hand-written examples (short and long mixed), plus a few
long ones made by joining them. Targets (issue 8): inline p99 <= 1 ms per prompt; deep
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
    return [mixed[i % len(mixed)] for i in range(count)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=2000)
    args = parser.parse_args()
    texts = prompts(args.prompts)
    classifier = ContentClassifier()
    classifier.inline(texts[:50])
    classifier.deep(texts[:8])  # load the embedding model before timing
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(
        f"{platform.node()}: Python {platform.python_version()}; {len(texts)} prompts, "
        f"{words:.0f} words on average"
    )
    inline = []
    for text in texts:
        start = time.perf_counter()
        classifier.inline([text])
        inline.append(time.perf_counter() - start)
    print(
        f"inline, one prompt at a time: p50 {percentile(inline, 0.5) * 1e3:.3f} ms, "
        f"p99 {percentile(inline, 0.99) * 1e3:.3f} ms, max {max(inline) * 1e3:.3f} ms"
    )
    single = []
    for text in texts[:100]:
        start = time.perf_counter()
        classifier.deep([text])
        single.append(time.perf_counter() - start)
    start = time.perf_counter()
    for at in range(0, len(texts), 64):
        classifier.deep(texts[at : at + 64])
    batched = time.perf_counter() - start
    rate = len(texts) / batched
    print(
        f"deep, one prompt at a time: p50 {percentile(single, 0.5) * 1e3:.2f} ms; "
        f"batched by 64: {rate:.0f} prompts/s"
    )
    print(
        f"inline is {percentile(single, 0.5) / percentile(inline, 0.5):.0f}x faster than deep "
        f"per prompt; batching makes deep {rate * percentile(single, 0.5):.1f}x faster"
    )


if __name__ == "__main__":
    main()
