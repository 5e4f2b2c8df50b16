"""The content categories a Cedar policy text names, read from Cedar's JSON form.

A policy that forbids a category no screening stage can produce never fires: the
shipped policy once forbade ``cbrn_weapons`` while the classifiers said ``bio``. So
``compile_policies`` refuses a policy set that compares ``context.categories`` (or
``context.dual_use_categories``) with a name that is not a signal
(``clearance.content.signals.SIGNALS``).
"""

from __future__ import annotations

import json
from typing import Any

import cedarpy

CATEGORY_SETS = frozenset({"categories", "dual_use_categories"})
SET_OPERATORS = ("contains", "containsAny", "containsAll", "==")


def categories_named(text: str) -> dict[str, set[str]]:
    """Per policy ``@id``, the content categories a (valid) Cedar policy text names."""
    found: dict[str, set[str]] = {}
    policies = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    for policy in policies.values():
        _named(policy["conditions"], found, policy.get("annotations", {}).get("id", ""))
    return found


def _is_category_set(node: Any) -> bool:
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
