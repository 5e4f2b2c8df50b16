"""Topic summaries: what a model's requests are about, without reading any of them.

A topic summary groups requests by meaning and reports each group only as a size, a share
of all requests and a few vocabulary terms, in the spirit of Anthropic's Clio. It answers
"what is this model being used for?" for operators who may not read content; reading a
request is break-glass only, inside a case.

What it guarantees:

* **No text.** The input is a sentence embedding and the vocabulary terms found in each
  request, never the request itself; the output holds only counts, shares and terms. No
  individual request, embedding or identifier is ever part of a summary.
* **A minimum group size.** A group of fewer than ``min_cluster_size`` requests (10 by
  default) is not shown: its requests are only added to ``suppressed``. With fewer requests
  than that in total, there are no topics at all.
* **Shared terms only.** A term is shown for a topic only if at least two of its requests,
  and at least a fifth of them, contain it, so a term from a single request is never
  shown. A topic with no such term is labelled "(no common terms)".

How: spherical k-means (cosine similarity) with k-means++ seeding, into at most
``min(max_topics, total // min_cluster_size)`` groups; groups whose centres nearly
coincide (one topic k-means split) are merged. Given the same requests and seed the
summary is the same. At most 20,000 requests (a deterministic sample) are used to find the
groups; every request is then counted in its nearest group. A topic's terms are the ones
frequent in it and rare elsewhere (document frequency in the topic times smoothed inverse
document frequency over all requests).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FIT_SAMPLE = 20_000
"""At most this many requests are used to find the groups; all are then assigned."""
MAX_ITERATIONS = 30
CHUNK = 8_192
LABEL_TERMS = 3
SHOWN_TERMS = 5
NO_TERMS = "(no common terms)"
MERGE_SIMILARITY = 0.85
"""Groups whose centres are at least this similar (cosine) are reported as one topic."""

Matrix = npt.NDArray[np.float32]
Labels = npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class TopicPoint:
    """One request as the summary sees it: its embedding and its vocabulary terms."""

    embedding: npt.NDArray[np.float32]
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    size: int
    share: float
    label: str
    terms: list[str]


@dataclass(frozen=True)
class TopicSummary:
    total: int
    topics: list[Topic]
    suppressed: int


def summarize(
    points: Sequence[TopicPoint], *, min_cluster_size: int = 10, max_topics: int = 12, seed: int = 0
) -> TopicSummary:
    """Group ``points`` into topics; groups under ``min_cluster_size`` are only counted."""
    if min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be at least 2, not {min_cluster_size}")
    if max_topics < 1:
        raise ValueError(f"max_topics must be at least 1, not {max_topics}")
    _check_shapes(points)
    total = len(points)
    if total < min_cluster_size:
        return TopicSummary(total=total, topics=[], suppressed=total)
    rng = np.random.default_rng(seed)
    fit: Sequence[int] = range(total)
    if total > FIT_SAMPLE:
        fit = sorted(int(i) for i in rng.choice(total, size=FIT_SAMPLE, replace=False))
    k = min(max_topics, max(1, total // min_cluster_size), len(fit))
    centres = _merged(_fit(_matrix([points[i] for i in fit]), k, rng))
    k = len(centres)
    labels = _assign(points, centres)
    sizes = np.bincount(labels, minlength=k)
    overall = Counter(term for point in points for term in _terms(point))
    topics: list[Topic] = []
    suppressed = 0
    for cluster in range(k):
        size = int(sizes[cluster])
        if size < min_cluster_size:
            suppressed += size
            continue
        members = np.flatnonzero(labels == cluster)
        inside = Counter(term for i in members for term in _terms(points[int(i)]))
        terms = _telling_terms(inside, overall, size, total)
        label = ", ".join(terms[:LABEL_TERMS]) if terms else NO_TERMS
        topics.append(Topic(size=size, share=size / total, label=label, terms=terms))
    topics.sort(key=lambda t: (-t.size, t.label, t.terms))
    return TopicSummary(total=total, topics=topics, suppressed=suppressed)


def to_document(summary: TopicSummary) -> dict[str, Any]:
    """The summary as JSON-ready data, for the admin API and the CLI."""
    return {
        "total": summary.total,
        "suppressed": summary.suppressed,
        "topics": [
            {
                "label": topic.label,
                "size": topic.size,
                "share": round(topic.share, 4),
                "terms": list(topic.terms),
            }
            for topic in summary.topics
        ],
    }


def _check_shapes(points: Sequence[TopicPoint]) -> None:
    if not points:
        return
    shape = np.shape(points[0].embedding)
    if len(shape) != 1 or shape[0] == 0:
        raise ValueError(f"an embedding must be a non-empty vector, not of shape {shape}")
    for index, point in enumerate(points):
        if np.shape(point.embedding) != shape:
            raise ValueError(
                f"embedding {index} has shape {np.shape(point.embedding)}; "
                f"every embedding must have the shape of the first, {shape}"
            )


def _terms(point: TopicPoint) -> set[str]:
    return {term for term in point.terms if term}


def _matrix(points: Sequence[TopicPoint]) -> Matrix:
    """The embeddings as rows, re-normalised to unit length."""
    rows: Matrix = np.stack([np.asarray(p.embedding, dtype=np.float32) for p in points])
    if not np.isfinite(rows).all():
        raise ValueError("embeddings must be finite (no NaN or infinity)")
    norms: Matrix = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, np.float32(1e-12))).astype(np.float32)


def _assign(points: Sequence[TopicPoint], centres: Matrix) -> Labels:
    """Each point's nearest centre, in chunks so memory stays bounded."""
    labels = np.empty(len(points), dtype=np.intp)
    for start in range(0, len(points), CHUNK):
        block = _matrix(points[start : start + CHUNK])
        labels[start : start + len(block)] = np.argmax(block @ centres.T, axis=1)
    return labels


def _seed(x: Matrix, k: int, rng: np.random.Generator) -> Matrix:
    """k-means++: each next centre drawn with probability ∝ squared cosine distance."""
    n = x.shape[0]
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    centres[0] = x[int(rng.integers(n))]
    nearest = x @ centres[0]
    for j in range(1, k):
        weights = np.clip(1.0 - nearest.astype(np.float64), 0.0, None) ** 2
        cumulative = np.cumsum(weights)
        if cumulative[-1] > 0:
            drawn = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
            index = min(int(drawn), n - 1)
        else:  # every point already sits on a centre
            index = int(rng.integers(n))
        centres[j] = x[index]
        nearest = np.maximum(nearest, x @ centres[j])
    return centres


def _merged(centres: Matrix) -> Matrix:
    """Groups whose centres are nearly the same direction are one topic that k-means
    split (k is an upper bound): merge them, closest pairs first."""
    groups = [[i] for i in range(len(centres))]
    vectors = [centres[i] for i in range(len(centres))]
    while len(vectors) > 1:
        stacked = np.stack(vectors)
        similarity = stacked @ stacked.T
        np.fill_diagonal(similarity, -1.0)
        a, b = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if similarity[a, b] < MERGE_SIMILARITY:
            break
        merged = vectors[a] * len(groups[a]) + vectors[b] * len(groups[b])
        vectors[a] = (merged / np.linalg.norm(merged)).astype(np.float32)
        groups[a] += groups.pop(b)
        vectors.pop(b)
    return np.stack(vectors).astype(np.float32)


def _fit(x: Matrix, k: int, rng: np.random.Generator) -> Matrix:
    """Spherical k-means: assign by cosine similarity, centres are normalised means."""
    centres = _seed(x, k, rng)
    previous: Labels | None = None
    for _ in range(MAX_ITERATIONS):
        similarity = x @ centres.T
        labels = np.argmax(similarity, axis=1)
        empty = np.flatnonzero(np.bincount(labels, minlength=k) == 0)
        if empty.size:
            # Re-seed each empty group from the points farthest from their own centre.
            own = similarity[np.arange(x.shape[0]), labels]
            centres[empty] = x[np.argsort(own, kind="stable")[: empty.size]]
            previous = None
            continue
        if previous is not None and np.array_equal(labels, previous):
            break
        previous = labels
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, x)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = (sums / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return centres


def _telling_terms(inside: Counter[str], overall: Counter[str], size: int, total: int) -> list[str]:
    """Up to five terms by in-topic frequency times smoothed idf; only terms that enough of the
    topic's requests share (at least two, and at least a fifth) are eligible."""
    floor = max(2, -(-size // 5))
    scored = [
        (count * (1.0 + math.log((1 + total) / (1 + overall[term]))), term)
        for term, count in inside.items()
        if count >= floor
    ]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [term for _, term in scored[:SHOWN_TERMS]]
