"""Topic summaries: groups by meaning, only sizes and shared terms, small groups suppressed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clearance.monitoring import topics
from clearance.monitoring.topics import NO_TERMS, TopicPoint, summarize, to_document

DIM = 384
VOCABULARIES = [
    ["protein", "folding", "enzyme", "assay", "binding"],
    ["exploit", "kernel", "overflow", "payload", "shellcode"],
    ["tariff", "invoice", "ledger", "audit", "revenue"],
    ["sonnet", "rhyme", "stanza", "meter", "verse"],
]


def unit(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def centres(n: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [unit(rng.standard_normal(DIM)) for _ in range(n)]


def cluster(
    centre: np.ndarray, vocabulary: list[str], size: int, rng: np.random.Generator
) -> list[TopicPoint]:
    """Points near ``centre``; the first two terms in every point, later ones less often."""
    points = []
    for j in range(size):
        noise = rng.standard_normal(DIM) * 0.1 / np.sqrt(DIM)
        terms = [vocabulary[0], vocabulary[1]]
        terms += [term for step, term in enumerate(vocabulary[2:], 2) if j % step == 0]
        points.append(TopicPoint(embedding=unit(centre + noise), terms=tuple(terms)))
    return points


def corpus(sizes: list[int], seed: int = 7) -> list[TopicPoint]:
    rng = np.random.default_rng(seed)
    points: list[TopicPoint] = []
    for centre, vocabulary, size in zip(centres(len(sizes)), VOCABULARIES, sizes, strict=False):
        points += cluster(centre, vocabulary, size, rng)
    return [points[i] for i in rng.permutation(len(points))]


def test_three_separated_groups_become_three_topics() -> None:
    summary = summarize(corpus([60, 40, 25]), max_topics=3)

    assert summary.total == 125
    assert summary.suppressed == 0
    assert [t.size for t in summary.topics] == [60, 40, 25]
    assert [t.share for t in summary.topics] == [60 / 125, 40 / 125, 25 / 125]
    for topic, vocabulary in zip(summary.topics, VOCABULARIES, strict=False):
        label = topic.label.split(", ")
        assert len(label) == 3
        assert set(label) <= set(vocabulary)
        assert set(topic.terms) <= set(vocabulary)
        assert label == topic.terms[:3]
        assert {vocabulary[0], vocabulary[1]} <= set(label)


def test_a_group_below_the_minimum_is_only_counted() -> None:
    summary = summarize(corpus([30, 20, 15, 4]), min_cluster_size=10, max_topics=4)

    assert summary.total == 69
    assert [t.size for t in summary.topics] == [30, 20, 15]
    assert summary.suppressed == 4
    shown = {term for t in summary.topics for term in t.terms}
    assert shown.isdisjoint(VOCABULARIES[3])


def test_a_term_one_request_used_is_never_shown() -> None:
    points = [
        TopicPoint(embedding=unit(np.ones(DIM)), terms=("shared",)),
        TopicPoint(embedding=unit(np.ones(DIM)), terms=("shared", "solo")),
        TopicPoint(embedding=unit(np.ones(DIM)), terms=()),
    ]
    summary = summarize(points, min_cluster_size=2)

    assert [(t.size, t.label, t.terms) for t in summary.topics] == [(3, "shared", ["shared"])]


def test_a_term_needs_a_fifth_of_the_topic() -> None:
    centre = centres(1)[0]
    points = [
        TopicPoint(
            embedding=centre,
            terms=("common",) + (("rare",) if i < 9 else ()) + (("fifth",) if i < 10 else ()),
        )
        for i in range(50)
    ]
    summary = summarize(points, max_topics=1)

    assert summary.topics[0].terms == ["common", "fifth"]


def test_a_topic_without_shared_terms_says_so() -> None:
    points = [TopicPoint(embedding=centres(1)[0], terms=(f"t{i}",)) for i in range(12)]
    summary = summarize(points)

    assert [(t.size, t.label, t.terms) for t in summary.topics] == [(12, NO_TERMS, [])]


def test_the_same_seed_gives_the_same_summary() -> None:
    points = corpus([40, 30, 20, 10])

    assert summarize(points, seed=3) == summarize(points, seed=3)
    assert to_document(summarize(points)) == to_document(summarize(points))


def test_empty_input() -> None:
    assert summarize([]) == topics.TopicSummary(total=0, topics=[], suppressed=0)


def test_fewer_requests_than_the_minimum_are_all_suppressed() -> None:
    summary = summarize(corpus([9]), min_cluster_size=10)

    assert summary == topics.TopicSummary(total=9, topics=[], suppressed=9)


def test_a_large_input_is_fitted_on_a_sample_and_fully_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(topics, "FIT_SAMPLE", 40)
    monkeypatch.setattr(topics, "CHUNK", 16)
    summary = summarize(corpus([60, 40, 25]), max_topics=3)

    assert summary.total == 125
    assert [t.size for t in summary.topics] == [60, 40, 25]


def test_the_document_is_json_ready() -> None:
    document = to_document(summarize(corpus([60, 40, 25]), max_topics=3))

    assert json.loads(json.dumps(document)) == document
    assert document["total"] == 125
    assert document["suppressed"] == 0
    assert document["topics"][0] == {
        "label": document["topics"][0]["label"],
        "size": 60,
        "share": 0.48,
        "terms": document["topics"][0]["terms"],
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_cluster_size": 1}, "min_cluster_size must be at least 2"),
        ({"max_topics": 0}, "max_topics must be at least 1"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        summarize(corpus([20]), **kwargs)


def test_mismatched_embeddings_are_refused() -> None:
    points = corpus([20])
    points[5] = TopicPoint(embedding=np.ones(DIM - 1, dtype=np.float32), terms=())

    with pytest.raises(ValueError, match=r"embedding 5 has shape \(383,\)"):
        summarize(points)


def test_embeddings_must_be_vectors_and_finite() -> None:
    matrix = TopicPoint(embedding=np.ones((2, DIM), dtype=np.float32), terms=())
    with pytest.raises(ValueError, match="must be a non-empty vector"):
        summarize([matrix] * 12)

    points = corpus([20])
    points[3] = TopicPoint(embedding=np.full(DIM, np.nan, dtype=np.float32), terms=())
    with pytest.raises(ValueError, match="must be finite"):
        summarize(points)


def test_one_topic_is_not_split_however_many_topics_are_allowed() -> None:
    summary = summarize(corpus([300, 150]))  # room for 12 topics by default

    assert [t.size for t in summary.topics] == [300, 150]
    assert summary.suppressed == 0
