"""The default policy set, decision by decision, and the properties no configuration
may break."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance import yamlfile
from clearance.content.signals import PROHIBITED
from clearance.domains import RISK_DOMAINS
from clearance.policy.engine import default_files, load_schema
from clearance.policy.source import compile_policies
from clearance.policy.testing import run_case, run_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policy-tests.yaml"
SCHEMA = load_schema()
COMPILED = compile_policies(default_files(), SCHEMA)
DOCUMENT = yamlfile.load(EXAMPLES.read_text())


@pytest.mark.parametrize("case", DOCUMENT["cases"], ids=lambda c: c["name"])
def test_the_documented_cases(case: dict[str, object]) -> None:
    result = run_case(COMPILED, SCHEMA, DOCUMENT["defaults"], case)
    assert result.passed, result.problem


def test_the_example_file_runs_as_a_whole() -> None:
    assert all(r.passed for r in run_file(COMPILED, SCHEMA, DOCUMENT))


purposes = st.frozensets(st.sampled_from(RISK_DOMAINS))


@settings(max_examples=150, deadline=None)
@given(
    entitled=purposes,
    categories=st.frozensets(st.sampled_from([*RISK_DOMAINS, *PROHIBITED]), min_size=1),
    prohibited=st.sampled_from(PROHIBITED),
    tier=st.integers(1, 3),
    release=st.sampled_from(["public", "trusted-access"]),
    declared=st.sampled_from(["", *RISK_DOMAINS]),
)
def test_no_entitlement_unlocks_a_prohibited_category(
    entitled: frozenset[str],
    categories: frozenset[str],
    prohibited: str,
    tier: int,
    release: str,
    declared: str,
) -> None:
    case = {
        "organization": {"tier": tier},
        "model": {"release": release, "min_org_tier": 1},
        "context": {
            "purpose": declared,
            "categories": sorted(categories | {prohibited}),
            "entitled": True,
            "entitled_purposes": sorted(entitled),
        },
        "expect": "deny",
        "code": "prohibited_content",
    }
    result = run_case(COMPILED, SCHEMA, DOCUMENT["defaults"], case)
    assert result.passed, result.problem


@settings(max_examples=150, deadline=None)
@given(
    who=st.sampled_from(["organization", "key"]),
    status=st.sampled_from(["suspended", "revoked", "removed"]),
    entitled=purposes,
    release=st.sampled_from(["public", "trusted-access"]),
    tier=st.integers(1, 3),
)
def test_a_suspended_principal_never_passes(
    who: str, status: str, entitled: frozenset[str], release: str, tier: int
) -> None:
    section = (
        {"organization": {"status": status, "tier": tier}}
        if who == "organization"
        else {"key": {"owner_status": status}}
    )
    case = {
        **section,
        "model": {"release": release, "min_org_tier": 1},
        "context": {"entitled": True, "entitled_purposes": sorted(entitled)},
        "expect": "deny",
    }
    assert run_case(COMPILED, SCHEMA, DOCUMENT["defaults"], case).passed
