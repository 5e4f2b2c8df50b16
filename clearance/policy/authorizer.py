"""The hot path's authorizer: Cedar decisions over in-memory state, cached.

Everything a decision needs is pre-parsed and rebuilt only when something changes —
the compiled policy set, the entities (organizations, keys, models) — and each
request adds only its context. Decisions are cached by principal, action, model and
context, and the cache is dropped whenever state changes, so a cached answer is never
older than the state it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cedarpy

from clearance.clock import Clock
from clearance.domains import RISK_DOMAINS
from clearance.identity.end_users import EndUsers
from clearance.identity.entitlements import EntitlementIndex
from clearance.identity.index import KeyIndex, Principal
from clearance.policy import entities as cedar
from clearance.policy.engine import Decision, decide
from clearance.policy.services import PolicyStore
from clearance.policy.source import CompiledPolicies
from clearance.registry.jurisdictions import Jurisdictions
from clearance.registry.models import Model
from clearance.registry.services import ModelCatalog

CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Question:
    """What a gateway request asks, apart from who and which model."""

    action: str = "invoke"
    purpose: str = ""
    categories: frozenset[str] = frozenset()
    source_ip: str | None = None
    end_user: str | None = None


class Authorizer:
    def __init__(
        self,
        store: PolicyStore,
        keys: KeyIndex,
        catalog: ModelCatalog,
        jurisdictions: Jurisdictions,
        entitlements: EntitlementIndex,
        end_users: EndUsers,
        clock: Clock,
    ) -> None:
        self._store = store
        self._keys = keys
        self._catalog = catalog
        self._jurisdictions = jurisdictions
        self._entitlements = entitlements
        self._end_users = end_users
        self._clock = clock
        self._compiled: CompiledPolicies | None = None
        self._entities: cedarpy.Entities | None = None
        self._cache: dict[tuple[Any, ...], Decision] = {}
        self.version = 0

    async def reload(self) -> None:
        """Recompile the policy set in force and rebuild the entities (after any change)."""
        active = await self._store.active()
        self._compiled = self._store.compile(active.files)
        self.version = active.version
        self.rebuild_entities()

    async def refresh(self) -> None:
        """Rebuild the entities after keys, organizations, members or models changed."""
        self.rebuild_entities()

    def rebuild_entities(self) -> None:
        documents = self._keys.entities() + [cedar.model(m) for m in self._catalog.all()]
        self._entities = cedarpy.Entities.from_json_str(json.dumps(documents), self._store.schema)
        self._cache = {}

    def _facts(
        self, principal: Principal, model: Model, question: Question
    ) -> tuple[str | None, frozenset[str] | None, str]:
        """The request's variable facts: source country, entitled purposes, end-user
        status. With the principal, action and model they decide the whole context."""
        country = self._jurisdictions.country_of(question.source_ip)
        entitled = self._entitlements.purposes(principal.org_id, model.name, self._clock.now())
        end_user_status = ""
        if question.end_user is not None:
            suspended = self._end_users.is_suspended(principal.org_id, question.end_user)
            end_user_status = "suspended" if suspended else "active"
        return country, entitled, end_user_status

    def context(self, principal: Principal, model: Model, question: Question) -> dict[str, Any]:
        return self._context(principal, model, question, *self._facts(principal, model, question))

    def _context(
        self,
        principal: Principal,
        model: Model,
        question: Question,
        country: str | None,
        entitled: frozenset[str] | None,
        end_user_status: str,
    ) -> dict[str, Any]:
        table = self._jurisdictions.table(model.jurisdiction)
        purposes = set(entitled or ())
        if principal.purposes is not None:
            purposes &= principal.purposes
        return {
            "purpose": question.purpose,
            "categories": sorted(question.categories),
            "dual_use_categories": sorted(c for c in question.categories if c in RISK_DOMAINS),
            "entitled": entitled is not None,
            "entitled_purposes": sorted(purposes),
            "source_country": country or "",
            "source_tier": self._jurisdictions.tier(table, country),
            "org_country_tier": table.tier(principal.org_country),
            "end_user_status": end_user_status,
        }

    def decide(self, principal: Principal, model: Model, question: Question) -> Decision:
        """Allow or deny, with the deciding policies; fails closed."""
        compiled, entities = self._compiled, self._entities
        if compiled is None or entities is None:
            return Decision(False, ("policy-not-loaded",), "access_denied")
        facts = self._facts(principal, model, question)
        # The source address matters only through its country (in ``facts``).
        key = (
            principal.key_id,
            model.id,
            question.action,
            question.purpose,
            question.categories,
            *facts,
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        context = self._context(principal, model, question, *facts)
        request = {
            "principal": cedar.uid("Key", principal.key_id),
            "action": cedar.action(question.action),
            "resource": cedar.uid("Model", model.id),
            "context": context,
        }
        decision = decide(compiled, entities, request)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = decision
        return decision

    def where(self, policy_id: str) -> str | None:
        """``file:line`` of a policy in force, by its ``@id``."""
        if self._compiled is None:
            return None
        return next((m.where for m in self._compiled.meta.values() if m.id == policy_id), None)


def allowed_models(
    authorizer: Authorizer, principal: Principal, models: Iterable[Model], source_ip: str | None
) -> list[Model]:
    question = Question(action="list_models", source_ip=source_ip)
    return [m for m in models if authorizer.decide(principal, m, question).allowed]
