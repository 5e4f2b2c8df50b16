"""Clearance's state as Cedar entities (JSON entity format), for the authorizer."""

from __future__ import annotations

from typing import Any

from clearance.domains import RISK_DOMAINS
from clearance.identity.models import Organization
from clearance.registry.models import Model

NAMESPACE = "Clearance"


def uid(kind: str, identifier: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{kind}", "id": identifier}


def action(name: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::Action", "id": name}


def organization(org: Organization) -> dict[str, Any]:
    return {
        "uid": uid("Organization", org.id),
        "attrs": {"tier": org.tier, "country": org.country, "status": org.status.value},
        "parents": [],
    }


def key(
    key_id: str,
    org_id: str,
    owner: str,
    owner_status: str,
    owner_verification: str,
    models: frozenset[str] | None,
) -> dict[str, Any]:
    return {
        "uid": uid("Key", key_id),
        "attrs": {
            "org": {"__entity": uid("Organization", org_id)},
            "owner": owner,
            "owner_status": owner_status,
            "owner_verification": owner_verification,
            "scoped_models": models is not None,
            "models": sorted(models or ()),
        },
        "parents": [uid("Organization", org_id)],
    }


def model(m: Model) -> dict[str, Any]:
    return {
        "uid": uid("Model", m.id),
        "attrs": {
            "name": m.name,
            "release": m.release_mode,
            "controlled": m.controlled,
            "export_control": m.export_control or "",
            "min_org_tier": m.min_org_tier,
            "max_risk": max((m.level(d) for d in RISK_DOMAINS), default=0),
            "risk": {domain: m.level(domain) for domain in RISK_DOMAINS},
            "safeguards": list(m.safeguards),
        },
        "parents": [],
    }
