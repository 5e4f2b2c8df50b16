"""What content screening scores, and what a set of scores flags.

Signals come on two levels of severity, and their names are the content categories
policy reads (``context.categories``) — the same strings from the classifier's heads
to the Cedar policies, the usage record and the monitor's alerts:

* **dual-use**, one per risk domain (``cyber``, ``bio``, ``chem``, ``radnuc``): the
  text asks for serious uplift in the domain — what an entitlement naming the domain
  can unlock;
* **prohibited**, what no entitlement unlocks: ``<domain>_prohibited`` for
  weaponization, mass-casualty intent and attacks on critical infrastructure in that
  domain, ``csam``, and ``other_harm`` (serious harm outside the dual-use domains).

A prohibited request in a domain is flagged with that domain too (a bioweapon request
is ``bio`` and ``bio_prohibited``). ``jailbreak`` is recorded, not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

DUAL_USE = ("cyber", "bio", "chem", "radnuc")
"""The domains an entitlement can unlock (``clearance.domains.RISK_DOMAINS`` less
``autonomy``, which content is not screened for)."""
DOMAINS = (*DUAL_USE, "other_harm")
"""Risk domains content is screened for: a score is the likelihood that the text asks
for serious harm in that domain (not merely that it mentions the subject)."""
SEVERE = tuple(f"{domain}_prohibited" for domain in DUAL_USE)
"""Per dual-use domain: the text seeks weaponization, mass casualties or an attack on
critical infrastructure in it (in ``DUAL_USE`` order)."""
PROHIBITED = (*SEVERE, "csam", "other_harm")
"""The categories the shipped policy forbids for everyone."""
SIGNALS = (*DOMAINS, "jailbreak", *SEVERE, "csam")
"""Everything scored: the domains, whether the text tries to talk a model out of its
rules, and the prohibited severity of each dual-use domain, and CSAM. (New signals go
last: a usage record lists its flags in this order.)"""

Scores = dict[str, float]
Stage = Literal["inline", "deep"]
STAGES: tuple[Stage, ...] = ("inline", "deep")


def flagged(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> list[str]:
    """The signals at or over their threshold, in ``SIGNALS`` order."""
    return [name for name in SIGNALS if scores[name] >= thresholds[name]]
