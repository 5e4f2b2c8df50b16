"""Asking Cedar, and failing closed.

cedarpy skips a policy whose evaluation errors and may still answer Allow; here any
error denies. A denial reports the ids of the forbid policies that decided it and the
most serious of their machine codes; a request no policy permits is denied with
``access_denied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from clearance.policy.source import CODES, CompiledPolicies

SCHEMA_FILE = Path(__file__).parent / "schema.cedarschema"
DEFAULT_POLICIES = Path(__file__).parent / "default"
EVALUATION_ERROR = "policy-evaluation-error"


def load_schema() -> cedarpy.Schema:
    return cedarpy.Schema.from_str(SCHEMA_FILE.read_text())


def default_files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(DEFAULT_POLICIES.glob("*.cedar"))}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    policies: tuple[str, ...]
    """The ``@id`` of every policy that decided (permits when allowed, forbids when not)."""
    code: str | None
    """For a denial: the gateway's machine code."""
    errors: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        if self.allowed:
            return "allowed by " + ", ".join(self.policies)
        if self.errors:
            return "denied: a policy could not be evaluated (" + "; ".join(self.errors) + ")"
        if not self.policies:
            return "denied: no policy permits it"
        return "denied by " + ", ".join(self.policies)


def decide(
    compiled: CompiledPolicies, entities: cedarpy.Entities, request: dict[str, Any]
) -> Decision:
    try:
        result = cedarpy.is_authorized(request, compiled.policy_set, entities)
    except (ValueError, RuntimeError) as exc:
        return Decision(False, (EVALUATION_ERROR,), "access_denied", (str(exc),))
    reasons = tuple(
        compiled.meta[r].id if r in compiled.meta else r for r in result.diagnostics.reasons
    )
    if result.diagnostics.errors:
        return Decision(
            False, (EVALUATION_ERROR, *reasons), "access_denied", tuple(result.diagnostics.errors)
        )
    if result.allowed:
        return Decision(True, reasons, None)
    codes = {compiled.meta[r].code for r in result.diagnostics.reasons if r in compiled.meta}
    code = next((c for c in CODES if c in codes), "access_denied")
    return Decision(False, reasons, code)
