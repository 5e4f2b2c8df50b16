"""Providers' risk labels on the internal scale."""

from __future__ import annotations

import pytest

from clearance.errors import InvalidInput
from clearance.registry import levels


@pytest.mark.parametrize(
    ("label", "level"),
    [
        ("0", 0),
        ("none", 0),
        ("High", 3),
        ("OpenAI:Medium", 2),
        ("OpenAI:High", 3),
        ("openai:critical", 4),
        ("ASL-2", 2),
        ("ASL-3", 3),
        ("asl4", 4),
        ("ASL-5", 4),
        ("CCL:Cyber Uplift Level 1", 3),
        ("CCL:CBRN uplift level 2", 4),
        ("CCL:early warning", 2),
    ],
)
def test_labels_map_to_the_internal_scale(label: str, level: int) -> None:
    parsed = levels.parse("cyber", label)
    assert parsed.level == level
    assert parsed.label == label


@pytest.mark.parametrize(
    ("domain", "label"), [("cyber", "OpenAI:Extreme"), ("cyber", "9"), ("space", "High")]
)
def test_unknown_labels_and_domains_are_refused(domain: str, label: str) -> None:
    with pytest.raises(InvalidInput):
        levels.parse(domain, label)
