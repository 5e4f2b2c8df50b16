"""Authenticate: turn the presented API key into a principal, or refuse with 401."""

from __future__ import annotations

from clearance.clock import Clock
from clearance.db.changes import ChangeWatcher
from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.identity.index import AuthFailure, KeyIndex

MISSING_KEY = (
    "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' "
    "(or 'x-api-key: <key>')."
)


class Authenticate:
    def __init__(self, keys: KeyIndex, watcher: ChangeWatcher, clock: Clock, max_stale: float):
        self._keys = keys
        self._watcher = watcher
        self._clock = clock
        self._max_stale = max_stale

    async def __call__(self, call: Call) -> None:
        if not call.credential:
            raise GatewayError(401, "invalid_api_key", MISSING_KEY)
        # A key revoked while our view of the state is stale might still pass: refuse
        # every request until the state is current again rather than risk it.
        if self._watcher.stale_for() > self._max_stale:
            raise GatewayError(
                503, "state_unavailable", "Access state could not be refreshed; retry shortly."
            )
        try:
            principal = self._keys.authenticate(call.credential, self._clock.now())
        except AuthFailure as failure:
            call.principal = failure.principal  # a genuine key's refusal is still recorded
            raise GatewayError(failure.status, failure.code, failure.message) from None
        if not principal.allows_address(call.client_ip):
            call.principal = principal
            raise GatewayError(
                403, "network_not_allowed", "This API key may not be used from this network."
            )
        call.principal = principal
