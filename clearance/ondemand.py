"""The services the container builds only when first used, each with its modules.

A command that lists organizations has no use for the content classifier (NumPy),
the screening lists' name matching, the SMTP client or the gateway's metrics; loading
them took most of every command's start. ``container.Services`` names each of these
as a ``cached_property`` over the function here of the same name, and a server builds
them all before it serves (``Services.start_serving``), so a bad setting still stops it
at the start.
"""

# ruff: noqa: PLC0415 — importing inside the functions is this module's purpose

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from clearance.settings import child_environment

if TYPE_CHECKING:
    from clearance.container import Services
    from clearance.content.classifier import ContentClassifier
    from clearance.gateway.metrics import GatewayMetrics
    from clearance.gateway.upstream import Upstreams
    from clearance.limits.interfaces import RateLimiter
    from clearance.monitoring.appeals import Appeals
    from clearance.monitoring.enforcement import Enforcement
    from clearance.monitoring.monitor import Monitor
    from clearance.monitoring.notify import Notifier
    from clearance.monitoring.process import MonitorProcess
    from clearance.program.service import ProgramService
    from clearance.screening.service import Screening
    from clearance.vetting.aftercare import Aftercare
    from clearance.vetting.applications import Applications
    from clearance.vetting.checks import Checks
    from clearance.vetting.decisions import Decisions
    from clearance.vetting.proofs.email import SmtpMailer


def content_classifier(s: Services) -> ContentClassifier:
    from clearance.content.classifier import ContentClassifier

    return ContentClassifier()


def monitor(s: Services) -> Monitor:
    from clearance.monitoring.detectors import build_detectors
    from clearance.monitoring.judge import Judge, judge_settings
    from clearance.monitoring.monitor import Monitor
    from clearance.monitoring.rules import RuleBook, parse_rules

    settings = s.settings
    detectors = build_detectors(settings.monitor_detectors)
    judging = judge_settings(settings.monitor_judge)
    return Monitor(
        s.db,
        s.clock,
        s.content_classifier,
        s.content_feed,
        detectors,
        s.alerts,
        RuleBook(parse_rules(settings.monitor_rules, [d.name for d in detectors])),
        s.enforcement,
        s.catalog,
        s.jurisdictions,
        s.entitlement_index,
        s.content_store,
        batch=settings.monitor_batch,
        deep=settings.monitor_deep,
        text_wait=timedelta(seconds=settings.monitor_text_wait if settings.monitor_process else 0),
        handoff=s.handoff if settings.monitor_process else None,
        judge=(
            Judge(judging, s.clock, s.catalog, settings.monitor_judge_api_key)
            if judging is not None
            else None
        ),
    )


def monitor_process(s: Services) -> MonitorProcess | None:
    """The monitor as a process of its own (started by the server), when so set."""
    from clearance.monitoring.process import MonitorProcess

    settings = s.settings
    if not (settings.monitor_enabled and settings.monitor_process):
        return None
    return MonitorProcess(child_environment(settings))


def mailer(s: Services) -> SmtpMailer:
    from clearance.vetting.proofs.email import SmtpMailer

    c = s.settings
    return SmtpMailer(c.smtp_host, c.smtp_port, c.smtp_sender, starttls=c.smtp_starttls)


def notifier(s: Services) -> Notifier:
    from clearance.monitoring.notify import Notifier

    return Notifier(s.db, s.audit, s.clock, s.mailer, s.server_secret)


def enforcement(s: Services) -> Enforcement:
    from clearance.monitoring.enforcement import Enforcement

    return Enforcement(
        s.db,
        s.audit,
        s.clock,
        s.end_users,
        s.members,
        s.organizations,
        s.keys,
        s.notifier,
    )


def appeals(s: Services) -> Appeals:
    from clearance.monitoring.appeals import Appeals

    return Appeals(s.db, s.audit, s.clock, s.enforcement)


def program(s: Services) -> ProgramService:
    from clearance.program.service import ProgramService

    return ProgramService(s.models, s.country_tables, s.policies)


def screening(s: Services) -> Screening:
    from clearance.screening.service import Screening

    return Screening(s.db, s.audit, s.clock, s.settings.screening_threshold)


def applications(s: Services) -> Applications:
    from clearance.vetting.applications import Applications

    return Applications(s.db, s.audit, s.clock, s.screening, s.country_tables)


def vetting_checks(s: Services) -> Checks:
    from clearance.vetting.checks import Checks

    return Checks(s.db, s.audit, s.clock, s.settings, s.server_secret, s.mailer)


def decisions(s: Services) -> Decisions:
    from clearance.vetting.decisions import Decisions

    return Decisions(
        s.db,
        s.audit,
        s.clock,
        s.organizations,
        s.members,
        s.entitlements,
        s.settings.revet_days,
    )


def aftercare(s: Services) -> Aftercare:
    from clearance.vetting.aftercare import Aftercare

    return Aftercare(s.db, s.audit, s.clock, s.organizations, s.decisions, s.mailer)


def upstreams(s: Services) -> Upstreams:
    from clearance.gateway.upstream import Upstreams

    c = s.settings
    return Upstreams(c.upstream_connect_timeout, c.upstream_read_timeout)


def limiter(s: Services) -> RateLimiter:
    from clearance.limits.memory import MemoryRateLimiter

    return MemoryRateLimiter()


def metrics(s: Services) -> GatewayMetrics:
    from prometheus_client import CollectorRegistry

    from clearance.gateway.metrics import GatewayMetrics

    return GatewayMetrics(CollectorRegistry(auto_describe=True))
