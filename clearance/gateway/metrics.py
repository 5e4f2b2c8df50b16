"""Prometheus metrics for the data plane, on a registry of the server's own (served at
``/metrics``): requests by endpoint and status, latency, decisions by code, upstream
errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "clearance_gateway_requests",
            "Gateway requests by endpoint and HTTP status.",
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
            "Requests refused, by machine code (policy decisions, limits, validation…).",
            ["code"],
            registry=registry,
        )
        self.upstream_errors = Counter(
            "clearance_gateway_upstream_errors",
            "Upstream failures by model and kind (unreachable, timeout, HTTP status).",
            ["model", "kind"],
            registry=registry,
        )
