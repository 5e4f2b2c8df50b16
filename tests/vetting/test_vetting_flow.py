"""Vetting end to end through the admin API (and the officer's one-time link), with a
DNS server and an SMTP server on 127.0.0.1: screening hits, domain proof, e-mail
verification, terms, two approvers, provisioning, activation, the gateway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from clearance.accounts.models import OperatorRole
from clearance.registry.models import ModelSpec
from tests.support.inprocess import InProcess, in_process
from tests.support.receivers import LocalSmtp
from tests.vetting.conftest import LocalDns

FIXTURES = Path(__file__).parents[1] / "screening" / "fixtures"
ACTOR = "local:test"
TERMS = "You use the model only for the purposes you were approved for."


def form(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "legal_name": "Acme Research Institute",
        "aliases": ["Acme RI"],
        "registration_number": "DE-HRB-123456",
        "incorporation_country": "US",
        "headquarters_country": "US",
        "beneficial_owners": [{"name": "Maria Keller", "country": "US", "share": 60}],
        "officer": {
            "name": "Ivan Ivanov",
            "email": "officer@acme-research.example",
            "title": "CISO",
        },
        "website_domain": "acme-research.example",
        "requested_models": ["cyber-pro"],
        "purposes": ["cyber"],
        "purpose_description": "Penetration testing of our own and our clients' systems.",
        "scope_attestation": "We only test systems we own or are authorized to test.",
        "sso": True,
        "mfa": True,
    }
    return base | changes


@pytest.fixture
async def ip(
    tmp_path: Path, upstream_url: str, dns_server: LocalDns, smtp_server: LocalSmtp
) -> AsyncIterator[InProcess]:
    settings = {
        "dns_nameservers": [f"127.0.0.1:{dns_server.port}"],
        "smtp_port": smtp_server.port,
        "public_url": "https://clearance.test",
    }
    async with in_process(tmp_path / "data", **settings) as app:
        s = app.services
        spec = ModelSpec(
            upstream_url, "echo", export_control="4E091", risk={"cyber": "OpenAI:High"}
        )
        await s.models.add(ACTOR, "cyber-pro", spec)
        await s.screening.import_file(ACTOR, FIXTURES / "csl.csv", "csl")
        await s.vetting_checks.publish_terms(ACTOR, "2026-11", TERMS)
        yield app


class Operator:
    def __init__(self, ip: InProcess, token: str) -> None:
        self.ip = ip
        self.headers = ip.as_operator(token)

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.ip.client.post(
            f"/admin/v1{path}", json=body or {}, headers=self.headers
        )
        assert response.status_code == status, response.text
        return response.json()

    async def get(self, path: str) -> Any:
        response = await self.ip.client.get(f"/admin/v1{path}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()


async def operators(ip: InProcess) -> tuple[Operator, Operator, Operator, Operator]:
    admin = Operator(ip, ip.admin_token)
    reviewer = Operator(ip, await ip.token_for(OperatorRole.REVIEWER, "rita"))
    first = Operator(ip, await ip.token_for(OperatorRole.APPROVER, "arne"))
    second = Operator(ip, await ip.token_for(OperatorRole.APPROVER, "bea"))
    return admin, reviewer, first, second


async def test_an_application_becomes_an_organization_whose_key_works(
    ip: InProcess, dns_server: LocalDns, smtp_server: LocalSmtp
) -> None:
    admin, reviewer, first, second = await operators(ip)
    app = await reviewer.post("/applications", form(), 201)
    assert app["status"] == "submitted"
    app_id = app["id"]

    screened = await reviewer.post(f"/applications/{app_id}/screen")
    assert screened["status"] == "in_review"
    [hit] = screened["hits"]  # the officer shares a listed person's name
    assert (hit["subject"], hit["entry_name"]) == ("officer", "IVANOV, Ivan Sergeyevich")
    assert hit["score"] >= 0.70
    assert hit["why"]

    not_ready = await first.post(f"/applications/{app_id}/approve", {}, 409)
    message = not_ready["error"]["message"]
    for missing in ("screening hit", "domain control", "e-mail", "terms"):
        assert missing in message

    await reviewer.post(
        f"/screening/hits/{hit['id']}/adjudicate",
        {"decision": "false_positive", "reason": "different date of birth and nationality"},
    )

    challenge = await reviewer.post(f"/applications/{app_id}/domain-challenge")
    assert challenge["dns"]["name"] == "_clearance-challenge.acme-research.example"
    refused = await reviewer.post(f"/applications/{app_id}/verify-domain", {"method": "dns"})
    assert refused["verified"] is False
    dns_server.zone.records[challenge["dns"]["name"]] = [[challenge["dns"]["value"]]]
    proven = await reviewer.post(f"/applications/{app_id}/verify-domain", {"method": "dns"})
    assert proven == {"verified": True, "method": "dns", "detail": proven["detail"]}

    sent = await reviewer.post(f"/applications/{app_id}/email-link")
    assert sent == {"sent_to": "officer@acme-research.example"}
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.rcpt_tos == ["officer@acme-research.example"]
    parsed = message_from_bytes(envelope.original_content, policy=default)
    body = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://clearance\.test(/verify-email/[A-Za-z0-9_-]+)", body)
    assert link is not None
    opened = await ip.client.get(link.group(1))
    assert opened.status_code == 200, opened.text
    shown = opened.json()
    assert shown["terms"]["version"] == "2026-11"
    assert shown["terms"]["text"] == TERMS
    wrong = await ip.client.post(link.group(1), json={"accept_terms_version": "2025-01"})
    assert (wrong.status_code, wrong.json()["error"]["param"]) == (400, "accept_terms_version")
    confirmed = await ip.client.post(link.group(1), json={"accept_terms_version": "2026-11"})
    assert confirmed.status_code == 200
    assert confirmed.json()["email_verified"] is True
    reused = await ip.client.post(link.group(1), json={"accept_terms_version": "2026-11"})
    assert reused.status_code == 409

    # The reviewer may not approve; a high-risk model needs two distinct approvers.
    forbidden = await reviewer.post(f"/applications/{app_id}/approve", {}, 403)
    assert forbidden["error"]["code"] == "forbidden"
    once = await first.post(f"/applications/{app_id}/approve", {"limits": {"key": {"rpm": 100}}})
    assert once["status"] == "in_review"
    again = await first.post(f"/applications/{app_id}/approve", {}, 403)
    assert "second approver" in again["error"]["message"]
    approved = await second.post(f"/applications/{app_id}/approve", {})
    assert approved["status"] == "approved"
    assert approved["revet_due_at"]

    provisioned = await admin.post(f"/applications/{app_id}/provision")
    assert provisioned["status"] == "provisioned"
    assert provisioned["officer_initial_password"]
    org_id = provisioned["org_id"]
    members = await admin.get(f"/orgs/{org_id}/members")
    assert [(m["email"], m["role"]) for m in members] == [
        ("officer@acme-research.example", "officer")
    ]
    assert await admin.get(f"/entitlements?org={org_id}") == []  # nothing more until activation
    active = await admin.post(f"/applications/{app_id}/activate")
    assert active["status"] == "active"

    key = await admin.post("/keys", {"org": org_id}, 201)
    await ip.refresh()
    chat = {"model": "cyber-pro", "messages": [{"role": "user", "content": "hello"}]}
    headers = ip.as_key(key["key"])
    assert (
        await ip.client.post("/v1/chat/completions", json=chat, headers=headers)
    ).status_code == 200

    await admin.post(f"/applications/{app_id}/suspend", {"reason": "investigation"})
    await ip.refresh()
    stopped = await ip.client.post("/v1/chat/completions", json=chat, headers=headers)
    assert stopped.status_code in (401, 403)

    shown = await admin.get(f"/applications/{app_id}")
    actions = [row["action"] for row in shown["history"]]
    assert actions[:3] == ["submit", "screen", "screened"]
    for action in (
        "domain_verified",
        "email_verified",
        "approval",
        "approve",
        "provision",
        "activate",
        "suspend",
    ):
        assert action in actions
    kinds = [entry["kind"] for entry in await audit_entries(ip)]
    for kind in (
        "application.submitted",
        "application.step",
        "screening.hit_raised",
        "screening.hit_adjudicated",
        "terms.published",
        "organization.admitted",
    ):
        assert kind in kinds


async def audit_entries(ip: InProcess) -> list[dict[str, Any]]:
    return [entry.fields() for entry in await ip.services.audit.entries(-1, 10_000)]


async def test_a_listed_entity_in_another_script_or_legal_form_is_caught(ip: InProcess) -> None:
    _, reviewer, _, _ = await operators(ip)
    for name in ("ООО Заря Аэроспейс", "Romashka Trading OOO"):
        app = await reviewer.post("/applications", form(legal_name=name, aliases=[]), 201)
        screened = await reviewer.post(f"/applications/{app['id']}/screen")
        caught = [h for h in screened["hits"] if h["subject"] == "organization"]
        assert caught, f"{name} was not caught"
        assert caught[0]["score"] >= 0.70


async def test_a_tier_3_country_is_refused_a_controlled_model_with_the_reason(
    ip: InProcess,
) -> None:
    _, reviewer, _, _ = await operators(ip)
    app = await reviewer.post("/applications", form(headquarters_country="IR"), 201)
    refused = await reviewer.post(f"/applications/{app['id']}/screen")
    assert refused["status"] == "rejected"
    shown = await reviewer.get(f"/applications/{app['id']}")
    reason = shown["history"][-1]["reason"]
    assert "cyber-pro is export-controlled" in reason
    assert "headquarters_country IR is tier 3" in reason


async def test_a_new_list_snapshot_raises_an_alert_naming_the_organization(ip: InProcess) -> None:
    admin, reviewer, _, _ = await operators(ip)
    app = await reviewer.post(
        "/applications",
        form(
            legal_name="Northwind Analytics LLC",
            aliases=[],
            officer={"name": "Jo Smith", "email": "jo@northwind.example", "title": "CTO"},
        ),
        201,
    )
    assert (await reviewer.post(f"/applications/{app['id']}/screen"))["hits"] == []
    assert await admin.get("/alerts") == []
    _, alerts = await ip.services.screening.import_file(ACTOR, FIXTURES / "csl_v2.csv", "csl")
    assert len(alerts) == 1
    assert "Northwind Analytics LLC" in alerts[0].summary
    listed = await admin.get("/alerts")
    assert [a["application_id"] for a in listed] == [app["id"]]
    # Re-importing raises nothing new: a hit is raised once.
    _, again = await ip.services.screening.import_file(ACTOR, FIXTURES / "csl_v2.csv", "csl")
    assert again == []


async def test_bad_applications_get_precise_errors_and_leave_nothing(ip: InProcess) -> None:
    _, reviewer, _, _ = await operators(ip)
    cases = [
        (form(legal_name=""), "legal_name"),
        (form(legal_name="Evil\u202eCorp"), "legal_name"),
        (form(incorporation_country="XX"), "incorporation_country"),
        (
            form(beneficial_owners=[{"name": "A", "country": "US", "share": 120}]),
            "beneficial_owners[0].share",
        ),
        (form(officer={"name": "B", "email": "not-an-address", "title": "CEO"}), "officer.email"),
        (form(website_domain="https://acme.example/"), "website_domain"),
        (form(requested_models=["no-such-model"]), "requested_models[0]"),
        (form(purposes=["mischief"]), "purposes"),
        (form(aliases=["x"] * 21), "aliases"),
        (form(surprise=1), "surprise"),
    ]
    for body, field in cases:
        refused = await reviewer.post("/applications", body, 400)
        assert refused["error"]["param"] == field, refused
    assert await reviewer.get("/applications") == []
    unicode = await reviewer.post("/applications", form(legal_name="株式会社サイバー研究所"), 201)
    assert unicode["form"]["legal_name"] == "株式会社サイバー研究所"
