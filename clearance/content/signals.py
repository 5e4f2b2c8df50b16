"""What content screening scores, and what a set of scores flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

DOMAINS = ("cyber", "bio", "chem", "radnuc", "other_harm")
"""Risk domains content is screened for: a score is the likelihood that the text asks
for serious harm in that domain (not merely that it mentions the subject)."""
SIGNALS = (*DOMAINS, "jailbreak")
"""Everything scored: the domains, and whether the text tries to talk a model out of
its rules."""

Scores = dict[str, float]
Stage = Literal["inline", "deep"]
STAGES: tuple[Stage, ...] = ("inline", "deep")


def flagged(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> list[str]:
    """The signals at or over their threshold, in ``SIGNALS`` order."""
    return [name for name in SIGNALS if scores[name] >= thresholds[name]]
