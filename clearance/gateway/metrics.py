"""Prometheus metrics for the data plane, on a registry of the server's own (served at
``/metrics``): requests by endpoint and the status they ended with, latency, requests
and tokens per model and per organization, refusals by code, upstream errors.

Every label takes its values from a bounded set, so no client can grow the series
without bound: endpoints and codes from fixed lists (an unknown code counts as
``other``), models from the registry (a request counts under the model the gateway
*found* for it, never under the name it sent: an unknown or unusable name counts as
``other``), organizations from the keys the server issued (``other``: no valid key),
statuses from HTTP's three digits. Each request is counted once, when it ends, under
the status its client received — a stream that failed after its 200 went out counts
under the error that ended it (see ``Call.status``).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from clearance.gateway.call import Call
from clearance.policy.source import CODES as POLICY_CODES

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)

OTHER = "other"
"""The label value of anything outside a label's bounded set."""

UPSTREAM_STATUS = "upstream_status"
"""The error code of an upstream's own error passed through (not a refusal)."""

REFUSAL_CODES = frozenset(
    {
        *POLICY_CODES,
        # credentials and access state
        "invalid_api_key",
        "key_expired",
        "key_revoked",
        "key_owner_inactive",
        "network_not_allowed",
        "state_unavailable",
        # limits and quotas
        "rate_limited",
        "quota_exhausted",
        # the request itself
        "invalid_request_error",
        "model_not_found",
        "request_too_large",
        "method_not_allowed",
        "not_found",
        "client_disconnected",
        # screening, the upstream, recording
        "screening_unavailable",
        "upstream_error",
        "upstream_timeout",
        "usage_unrecorded",
        "internal_error",
    }
)
"""Every machine code the gateway answers with; the refusal counter's label set."""


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "clearance_gateway_requests",
            "Gateway requests by endpoint and the HTTP status they ended with.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "clearance_gateway_request_seconds",
            "Time from request to the last byte of the response.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.refusals = Counter(
            "clearance_gateway_refusals",
            "Requests refused, or streams ended with an error, by machine code.",
            ["code"],
            registry=registry,
        )
        self.upstream_errors = Counter(
            "clearance_gateway_upstream_errors",
            "Upstream failures by model and kind (unreachable, timeout, HTTP status).",
            ["model", "kind"],
            registry=registry,
        )
        self.model_requests = Counter(
            "clearance_gateway_model_requests",
            "Gateway requests by registered model (other: no model found).",
            ["model"],
            registry=registry,
        )
        self.model_tokens = Counter(
            "clearance_gateway_model_tokens",
            "Tokens the upstream reported, by registered model and kind (prompt, completion).",
            ["model", "kind"],
            registry=registry,
        )
        self.organization_requests = Counter(
            "clearance_gateway_organization_requests",
            "Gateway requests by organization id (other: no valid key).",
            ["organization"],
            registry=registry,
        )
        self.organization_tokens = Counter(
            "clearance_gateway_organization_tokens",
            "Tokens the upstream reported, by organization id and kind (prompt, completion).",
            ["organization", "kind"],
            registry=registry,
        )
        # A labelled child costs a lock and a dict look-up to find; each is found once.
        self._ended: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._per_model: dict[str, tuple[Counter, Counter, Counter]] = {}
        self._per_organization: dict[str, tuple[Counter, Counter, Counter]] = {}
        self._by_code: dict[str, Counter] = {}

    def finished(self, call: Call) -> None:
        """Count a request that has ended (once each, whatever the way it ended)."""
        key = (call.endpoint, call.status)
        ended = self._ended.get(key)
        if ended is None:
            requests = self.requests.labels(call.endpoint, str(call.status))
            ended = self._ended[key] = (requests, self.latency.labels(call.endpoint))
        ended[0].inc()
        ended[1].observe(time.monotonic() - call.started)
        code = call.error_code
        if code is not None and code != UPSTREAM_STATUS:
            self.refused(code)
        model = call.model.name if call.model is not None else OTHER
        org = call.principal.org_id if call.principal is not None else OTHER
        prompt, completion = call.usage.prompt, call.usage.completion
        for children in (self._model(model), self._organization(org)):
            children[0].inc()
            if prompt:
                children[1].inc(prompt)
            if completion:
                children[2].inc(completion)

    def refused(self, code: str) -> None:
        label = code if code in REFUSAL_CODES else OTHER
        counter = self._by_code.get(label)
        if counter is None:
            counter = self._by_code[label] = self.refusals.labels(label)
        counter.inc()

    def _model(self, name: str) -> tuple[Counter, Counter, Counter]:
        found = self._per_model.get(name)
        if found is None:
            tokens = self.model_tokens
            found = self._per_model[name] = (
                self.model_requests.labels(name),
                tokens.labels(name, "prompt"),
                tokens.labels(name, "completion"),
            )
        return found

    def _organization(self, org_id: str) -> tuple[Counter, Counter, Counter]:
        found = self._per_organization.get(org_id)
        if found is None:
            tokens = self.organization_tokens
            found = self._per_organization[org_id] = (
                self.organization_requests.labels(org_id),
                tokens.labels(org_id, "prompt"),
                tokens.labels(org_id, "completion"),
            )
        return found
