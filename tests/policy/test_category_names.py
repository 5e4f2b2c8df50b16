"""The content categories the shipped policies name are the signals the classifiers
emit, name for name: a policy forbidding a category no stage can produce never fires
(as "cbrn_weapons" once did, while the classifiers said "bio")."""

from __future__ import annotations

import json
from typing import Any

import cedarpy

from clearance.content.embedder import MODEL_DIR
from clearance.content.linear import LinearModel
from clearance.content.signals import PROHIBITED, SIGNALS
from clearance.policy.engine import default_files

CATEGORY_SETS = frozenset({"categories", "dual_use_categories"})
SET_OPERATORS = ("contains", "containsAny", "containsAll", "==")


def _is_category_set(node: Any) -> bool:
    """``context.categories`` (or ``context.dual_use_categories``) in Cedar's JSON."""
    attribute = node.get(".") if isinstance(node, dict) else None
    return (
        isinstance(attribute, dict)
        and attribute.get("left") == {"Var": "context"}
        and attribute.get("attr") in CATEGORY_SETS
    )


def _strings(node: Any) -> set[str]:
    if isinstance(node, dict):
        value = node.get("Value")
        if isinstance(value, str):
            return {value}
        return set().union(*(_strings(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_strings(v) for v in node))
    return set()


def _named(node: Any, found: dict[str, set[str]], policy: str) -> None:
    """Every string compared with a category set, by the policy that names it."""
    if isinstance(node, dict):
        for operator in SET_OPERATORS:
            operands = node.get(operator)
            if isinstance(operands, dict) and _is_category_set(operands.get("left")):
                found.setdefault(policy, set()).update(_strings(operands.get("right")))
        for value in node.values():
            _named(value, found, policy)
    elif isinstance(node, list):
        for value in node:
            _named(value, found, policy)


def categories_named(text: str) -> dict[str, set[str]]:
    """Per policy ``@id``, the content categories a Cedar policy text names."""
    found: dict[str, set[str]] = {}
    policies = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    for policy in policies.values():
        _named(policy["conditions"], found, policy["annotations"]["id"])
    return found


def shipped() -> dict[str, set[str]]:
    named: dict[str, set[str]] = {}
    for text in default_files().values():
        named.update(categories_named(text))
    return named


def test_every_category_a_shipped_policy_names_is_a_signal_every_stage_scores() -> None:
    named = set().union(*shipped().values())
    assert named  # the reader found the content policy at all
    assert named - set(SIGNALS) == set()
    for stage in ("inline", "deep"):
        thresholds = LinearModel.load(MODEL_DIR / f"{stage}.npz").thresholds
        assert set(thresholds) == set(SIGNALS)
        assert all(thresholds[name] < 1.0 for name in named)  # a score can reach it


def test_the_prohibited_policy_names_exactly_the_prohibited_signals() -> None:
    assert shipped()["prohibited-content"] == set(PROHIBITED)


def test_a_category_no_stage_produces_is_caught() -> None:
    old = """
    @id("prohibited-content")
    forbid (principal, action, resource)
    when { context.categories.containsAny(["cbrn_weapons", "mass_casualty", "csam"]) };
    @id("no-cyber")
    forbid (principal, action, resource)
    when { context.categories.contains("cyber") && resource.release == "public" };
    """
    named = categories_named(old)
    assert named == {
        "prohibited-content": {"cbrn_weapons", "mass_casualty", "csam"},
        "no-cyber": {"cyber"},
    }
    assert set().union(*named.values()) - set(SIGNALS) == {"cbrn_weapons", "mass_casualty"}
