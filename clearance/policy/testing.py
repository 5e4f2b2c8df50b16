"""Policy tests for operators: a YAML file of example requests and the decisions
expected of them, run against a policy set — so a policy change can be checked
before it is applied.

    defaults:                      # merged into every case (all optional)
      organization: {tier: 2, country: US, status: active}
      key: {owner_status: active, owner_verification: identity_verified, models: null}
      model: {name: m, release: trusted-access, export_control: 4E091, min_org_tier: 1,
              risk: {cyber: 3}, safeguards: []}
      context: {purpose: "", categories: [], entitled: true, entitled_purposes: [],
                source_country: US, source_tier: 1, org_country_tier: 1,
                end_user_status: ""}
    cases:
      - name: entitled cyber work is allowed
        context: {purpose: cyber, categories: [cyber], entitled_purposes: [cyber]}
        expect: allow
      - name: weapons content is refused for everyone
        context: {categories: [bio_prohibited], entitled_purposes: [cyber, bio]}
        expect: deny
        code: prohibited_content           # optional
        policies: [prohibited-content]     # optional: these must be among the deciders
        action: invoke                     # optional: invoke (default), embed, list_models

Each case describes one organization, one key and one model directly, so the file
needs no installation and means the same everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy

from clearance.domains import RISK_DOMAINS
from clearance.errors import InvalidInput
from clearance.policy import entities as cedar
from clearance.policy.engine import Decision, decide
from clearance.policy.source import CompiledPolicies

DEFAULTS: dict[str, dict[str, Any]] = {
    "organization": {"tier": 1, "country": "US", "status": "active"},
    "key": {"owner_status": "active", "owner_verification": "none", "models": None},
    "model": {
        "name": "model",
        "release": "trusted-access",
        "export_control": "",
        "min_org_tier": 1,
        "risk": {},
        "safeguards": [],
    },
    "context": {
        "purpose": "",
        "categories": [],
        "entitled": True,
        "entitled_purposes": [],
        "source_country": "US",
        "source_tier": 1,
        "org_country_tier": 1,
        "end_user_status": "",
    },
}


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    decision: Decision
    problem: str | None


def _merged(*layers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = {section: dict(values) for section, values in DEFAULTS.items()}
    for layer in layers:
        for section in DEFAULTS:
            extra = layer.get(section) or {}
            if not isinstance(extra, dict):
                raise InvalidInput(f"{section} must be a mapping", section)
            result[section].update(extra)
    return result


def _entities(case: dict[str, dict[str, Any]], schema: cedarpy.Schema) -> cedarpy.Entities:
    org, key, model = case["organization"], case["key"], case["model"]
    export = str(model.get("export_control") or "")
    risk = {domain: int((model.get("risk") or {}).get(domain, 0)) for domain in RISK_DOMAINS}
    documents = [
        {
            "uid": cedar.uid("Organization", "org"),
            "attrs": {
                "tier": int(org["tier"]),
                "country": str(org["country"]),
                "status": str(org["status"]),
            },
            "parents": [],
        },
        cedar.key(
            "key",
            "org",
            "service_account:test",
            str(key["owner_status"]),
            str(key["owner_verification"]),
            frozenset(key["models"]) if key.get("models") is not None else None,
        ),
        {
            "uid": cedar.uid("Model", "model"),
            "attrs": {
                "name": str(model["name"]),
                "release": str(model["release"]),
                "controlled": bool(export) and export.upper() != "EAR99",
                "export_control": export,
                "min_org_tier": int(model["min_org_tier"]),
                "max_risk": max(risk.values(), default=0),
                "risk": risk,
                "safeguards": list(model.get("safeguards") or []),
            },
            "parents": [],
        },
    ]
    return cedarpy.Entities.from_json_str(json.dumps(documents), schema)


def _context(raw: dict[str, Any]) -> dict[str, Any]:
    context = dict(raw)
    categories = [str(c) for c in context.get("categories") or []]
    context["categories"] = categories
    context.setdefault("dual_use_categories", [c for c in categories if c in RISK_DOMAINS])
    context["entitled_purposes"] = [str(p) for p in context.get("entitled_purposes") or []]
    return context


def run_case(
    compiled: CompiledPolicies,
    schema: cedarpy.Schema,
    defaults: dict[str, Any],
    case: dict[str, Any],
) -> CaseResult:
    name = str(case.get("name", "(unnamed)"))
    expect = case.get("expect")
    if expect not in ("allow", "deny"):
        raise InvalidInput(f"case {name!r}: expect must be allow or deny", "expect")
    merged = _merged(defaults, case)
    try:
        entities = _entities(merged, schema)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"case {name!r}: {exc}", "cases") from None
    request = {
        "principal": cedar.uid("Key", "key"),
        "action": cedar.action(str(case.get("action", "invoke"))),
        "resource": cedar.uid("Model", "model"),
        "context": _context(merged["context"]),
    }
    decision = decide(compiled, entities, request)
    problems = []
    if decision.allowed != (expect == "allow"):
        problems.append(f"expected {expect}, got {'allow' if decision.allowed else 'deny'}")
    if "code" in case and decision.code != case["code"]:
        problems.append(f"expected code {case['code']}, got {decision.code}")
    missing = set(case.get("policies") or ()) - set(decision.policies)
    if missing:
        problems.append(
            f"expected deciding policies {sorted(missing)} (got {list(decision.policies)})"
        )
    return CaseResult(name, not problems, decision, "; ".join(problems) or None)


def run_file(compiled: CompiledPolicies, schema: cedarpy.Schema, document: Any) -> list[CaseResult]:
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise InvalidInput("a policy test file needs a list of cases", "cases")
    defaults = document.get("defaults") or {}
    return [run_case(compiled, schema, defaults, case) for case in document["cases"]]
