"""Random identifiers: the right length, only letters and digits, every one of the
62 equally likely."""

from __future__ import annotations

from collections import Counter

from clearance.ids import ALPHABET, new_id, random_base62


def test_lengths_and_alphabet() -> None:
    for length in (1, 4, 16, 20, 38, 100):
        text = random_base62(length)
        assert len(text) == length
        assert set(text) <= set(ALPHABET)
    assert new_id("req", 20).startswith("req_")
    assert len({new_id("x") for _ in range(1000)}) == 1000


def test_characters_are_uniform() -> None:
    counts = Counter("".join(random_base62(62) for _ in range(2000)))
    assert set(counts) == set(ALPHABET)
    expected = 2000  # 124,000 characters over 62 symbols
    chi_square = sum((n - expected) ** 2 / expected for n in counts.values())
    # 61 degrees of freedom: the 99.999th percentile is about 120.
    assert chi_square < 120
