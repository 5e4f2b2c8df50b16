"""Limit: requests and tokens per minute, concurrency and token quotas — per key, key
owner, end user and organization (from the organization's entitlement to the model)
and per model (from the model's declaration); and any throttle enforcement set. Refusals are 429 with ``Retry-After``."""

from __future__ import annotations

from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.identity.entitlements import EntitlementIndex
from clearance.limits.interfaces import Counter, RateLimiter, Refusal
from clearance.limits.models import Limits
from clearance.monitoring.throttles import Throttles


class Limit:
    def __init__(
        self, limiter: RateLimiter, entitlements: EntitlementIndex, throttles: Throttles
    ) -> None:
        self._limiter = limiter
        self._entitlements = entitlements
        self._throttles = throttles

    async def __call__(self, call: Call) -> None:
        principal, model = call.principal, call.model
        if principal is None or model is None:
            return
        now = call.started_at
        checks: list[tuple[Counter, Limits]] = []
        ids = {
            "organization": principal.org_id,
            "key": principal.key_id,
            "owner": principal.owner,
            "end_user": f"{principal.org_id}/{call.end_user}" if call.end_user else None,
        }
        for scope, limits in self._entitlements.limits(principal.org_id, model.name, now).items():
            if ids.get(scope) is not None and limits.any():
                checks.append((Counter(scope, str(ids[scope]), model.name), limits))
        if model.limits.any():
            checks.append((Counter("model", model.name, "*"), model.limits))
        checks += self._throttles.checks(principal.org_id, principal.key_id, call.end_user, now)
        if not checks:
            return
        result = self._limiter.admit(checks, now)
        if isinstance(result, Refusal):
            raise GatewayError(
                429, result.code, result.message, headers={"retry-after": str(result.retry_after)}
            )
        call.admission = result
