"""What the public log shows: ids, kinds, statuses, times, counts and digests, and for
everything sensitive only a commitment — while operators read the cleartext, checked
against the published entry, and anyone can still verify the tree.

The first test is the outside probe's finding: after operator actions and sign-ins,
the entry bundles at ``/log/tile/entries/…`` named the organization, its reasons, the
sign-in address and the alert's summary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
import rfc8785
import sqlalchemy as sa

from clearance.accounts import totp
from clearance.accounts.models import OperatorRole
from clearance.audit import commitments, events
from clearance.audit.commitments import Opening, OpeningMismatch, open_entry, verify_opening
from clearance.audit.events import (
    AccountSignedIn,
    AuditEvent,
    ModelRegistered,
    OrganizationAdmitted,
    UsageBatchRecorded,
)
from clearance.audit.models import audit_entries_table
from clearance.audit.tlog import merkle, tiles
from clearance.audit.verify import http_fetcher, verify
from clearance.container import Services
from clearance.installation import read_log_signer
from clearance.monitoring import events as monitoring_events
from clearance.monitoring.detectors.base import Finding, Severity
from clearance.vetting import events as vetting_events
from tests.support.inprocess import InProcess, in_process

README = Path(__file__).parents[2] / "README.md"
AT = datetime(2026, 12, 8, 9, 30, 1, 250000, tzinfo=UTC)
SOURCE_IP = "203.0.113.77"
SENSITIVE = {
    "organization name": "Zephyr Biolabs GmbH",
    "admission reason": "pilot for the zoonosis programme",
    "suspension reason": "unexplained traffic from a sanctioned network",
    "operator name": "quentin-ops",
    "sign-in source IP": SOURCE_IP,
    "alert summary": "volume anomaly: 9913 requests in an hour",
    "enforcement reason": "credentials shared with a reseller",
    "webhook URL": "https://hooks.zephyr.example/clearance",
    "case title": "Reseller suspected at Zephyr",
    "break-glass justification": "checking whether the flagged request was an exploit",
    "key revocation reason": "leaked in a public repository",
    "key's source network": "198.51.100.0/24",
}


@pytest.fixture
async def ip(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as app:
        yield app


async def sign_in_from(ip: InProcess, address: str, name: str, password: str) -> None:
    """An operator's first sign-in (TOTP enrolment), from ``address``."""
    app = cast(httpx.ASGITransport, ip.client._transport).app  # the same app, another peer
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://clearance.test") as web:
        first = await web.post("/admin/v1/auth/login", json={"name": name, "password": password})
        assert first.json()["status"] == "enrolment_required", first.text
        code = totp.code_at(first.json()["totp_secret"], ip.clock.now())
        done = await web.post(
            "/admin/v1/auth/enrol", json={"ticket": first.json()["ticket"], "totp": code}
        )
        assert done.status_code == 200, done.text


async def operator_actions(ip: InProcess) -> None:
    """What a day of running the program logs: an admission, a sign-in, an alert, a
    case, break-glass, enforcement, a webhook, a key revoked, a suspension."""
    admin = ip.as_operator(ip.admin_token)
    investigator = ip.as_operator(await ip.token_for(OperatorRole.INVESTIGATOR))
    created = await ip.client.post(
        "/admin/v1/orgs",
        json={
            "name": SENSITIVE["organization name"],
            "country": "DE",
            "reason": SENSITIVE["admission reason"],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    org = created.json()["id"]
    operator = await ip.client.post(
        "/admin/v1/operators",
        json={"name": SENSITIVE["operator name"], "role": "reviewer"},
        headers=admin,
    )
    assert operator.status_code == 201, operator.text
    await sign_in_from(
        ip, SOURCE_IP, SENSITIVE["operator name"], operator.json()["initial_password"]
    )
    services = ip.services
    await services.alerts.raise_all(
        [Finding("volume", Severity.MEDIUM, org, SENSITIVE["alert summary"], key_id="key_1")]
    )
    case = await ip.client.post(
        "/admin/v1/cases", json={"title": SENSITIVE["case title"], "org": org}, headers=investigator
    )
    assert case.status_code == 201, case.text
    viewed = await ip.client.post(
        f"/admin/v1/cases/{case.json()['id']}/content",
        json={"request_id": "req_1", "justification": SENSITIVE["break-glass justification"]},
        headers=investigator,
    )
    assert viewed.status_code == 200, viewed.text
    await services.notifier.set_webhook("local:test", org, SENSITIVE["webhook URL"])
    await services.enforcement.take(
        "local:test", "warn", "organization", org, "", SENSITIVE["enforcement reason"]
    )
    key = await ip.client.post(
        "/admin/v1/keys",
        json={"org": org, "networks": [SENSITIVE["key's source network"]]},
        headers=admin,
    )
    assert key.status_code == 201, key.text
    revoked = await ip.client.post(
        f"/admin/v1/keys/{key.json()['id']}/revoke",
        json={"reason": SENSITIVE["key revocation reason"]},
        headers=admin,
    )
    assert revoked.status_code == 204, revoked.text
    suspended = await ip.client.post(
        f"/admin/v1/orgs/{org}/suspend",
        json={"reason": SENSITIVE["suspension reason"]},
        headers=admin,
    )
    assert suspended.status_code == 200, suspended.text


async def published_entries(ip: InProcess) -> list[bytes]:
    """Every entry as anyone fetches it: the bundles the latest checkpoint covers."""
    checkpoint = await ip.services.checkpoints.update(force=True)
    assert checkpoint is not None
    entries: list[bytes] = []
    for index in range(0, checkpoint.size, tiles.TILE_WIDTH):
        width = min(tiles.TILE_WIDTH, checkpoint.size - index)
        path = tiles.tile_path(tiles.ENTRIES, index // tiles.TILE_WIDTH, width)
        response = await ip.client.get(f"/log/{path}")
        assert response.status_code == 200, path
        entries += tiles.decode_entry_bundle(response.content)
    assert len(entries) == checkpoint.size
    return entries


async def test_the_public_log_shows_no_names_reasons_addresses_or_summaries(
    ip: InProcess,
) -> None:
    await operator_actions(ip)
    published = await published_entries(ip)
    everything = b"\n".join(published)
    shown = {what: value for what, value in SENSITIVE.items() if value.encode() in everything}
    assert shown == {}, f"the public log shows {sorted(shown)}"
    kinds = {orjson.loads(entry)["kind"] for entry in published}
    assert {
        "organization.admitted",
        "account.signed_in",
        "monitor.alert_raised",
        "enforcement.taken",
        "organization.status_changed",
    } <= kinds

    # The tree is as verifiable by anyone as before…
    vkey = read_log_signer(ip.services.settings).verifier().to_vkey()
    result = await verify(http_fetcher(ip.client, "https://clearance.test/log"), vkey)
    assert result.checkpoint.size == len(published)

    # …and operators (and auditors with an account) read everything, checked.
    listed = await ip.client.get(
        "/admin/v1/audit?limit=1000", headers=ip.as_operator(ip.admin_token)
    )
    assert listed.status_code == 200
    operator_view = orjson.dumps([entry["event"] for entry in listed.json()])
    assert all(value.encode() in operator_view for value in SENSITIVE.values())
    committed = [entry for entry in listed.json() if "committed" in entry["event"]]
    assert committed
    for entry in committed:
        event = entry["event"]
        assert event["opening"]["verified"] is True
        # What an auditor does offline: the published bytes, and the nonce and values
        # an operator shows them.
        opening = Opening.of(
            bytes.fromhex(event["opening"]["nonce"]),
            {name: event[name] for name in event["committed"]},
        )
        clear = open_entry(published[entry["seq"]], opening)
        assert clear == {k: v for k, v in event.items() if k not in ("committed", "opening")}


async def test_a_sign_in_publishes_only_a_commitment_to_its_address(ip: InProcess) -> None:
    operator = await ip.client.post(
        "/admin/v1/operators",
        json={"name": "rhea", "role": "auditor"},
        headers=ip.as_operator(ip.admin_token),
    )
    await sign_in_from(ip, SOURCE_IP, "rhea", operator.json()["initial_password"])
    [entry] = await ip.services.audit.entries(kind="account.signed_in")
    public = entry.public_fields()
    assert public["committed"] == ["source_ip"]
    assert re.fullmatch(r"[0-9a-f]{64}", public["source_ip"]["commitment"])
    assert public["account"].startswith("operator:")
    assert entry.fields()["source_ip"] == SOURCE_IP
    assert merkle.leaf_hash(entry.body) == merkle.leaf_hash(rfc8785.dumps(public))


# --- the commitment scheme, as the README documents it ------------------------------


def documented_commitment(nonce: bytes, name: str, value: Any) -> str:
    """The README's computation, written out again from its words."""
    key = hmac.new(nonce, name.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, rfc8785.dumps(value), hashlib.sha256).hexdigest()


def admitted(name: str = "Acme", reason: str = "pilot") -> OrganizationAdmitted:
    return OrganizationAdmitted(
        actor="operator:op_1",
        org_id="org_1",
        name=name,
        country="US",
        tier=1,
        admission="direct",
        reason=reason,
    )


def test_the_published_entry_is_the_documented_computation() -> None:
    nonce = bytes(range(32))
    event = admitted()
    body, opening = commitments.commit(event.document(AT), event.private, nonce)
    assert orjson.loads(body) == {
        "kind": "organization.admitted",
        "v": 2,
        "time": "2026-12-08T09:30:01.250000Z",
        "actor": "operator:op_1",
        "org_id": "org_1",
        "country": "US",
        "tier": 1,
        "admission": "direct",
        "name": {"commitment": documented_commitment(nonce, "name", "Acme")},
        "reason": {"commitment": documented_commitment(nonce, "reason", "pilot")},
        "committed": ["name", "reason"],
    }
    assert body == rfc8785.dumps(orjson.loads(body))  # canonical, like every entry
    assert opening.document() == {
        "nonce": nonce.hex(),
        "values": {"name": "Acme", "reason": "pilot"},
    }
    # Opened, it is byte for byte the event as it would have been logged in clear.
    assert rfc8785.dumps(open_entry(body, opening)) == event.encode(AT)


def test_equal_values_in_two_entries_cannot_be_linked() -> None:
    first, _ = admitted().encode_entry(AT)
    second, _ = admitted().encode_entry(AT)
    assert orjson.loads(first)["name"] != orjson.loads(second)["name"]


def test_an_opening_that_differs_in_anything_is_refused() -> None:
    body, opening = admitted().encode_entry(AT)
    assert opening is not None
    assert verify_opening(body, opening)
    values = orjson.loads(opening.values)
    wrong = [
        Opening(bytes(32), opening.values),  # another nonce
        Opening.of(opening.nonce, values | {"name": "Acme Ltd"}),  # another value
        Opening.of(opening.nonce, {"name": values["name"]}),  # a field left out
        Opening.of(opening.nonce, values | {"tier": 1}),  # a field added
    ]
    for candidate in wrong:
        assert not verify_opening(body, candidate)
        with pytest.raises(OpeningMismatch):
            open_entry(body, candidate)
    swapped = orjson.loads(body)
    swapped["name"], swapped["reason"] = swapped["reason"], swapped["name"]
    assert not verify_opening(rfc8785.dumps(swapped), opening)


def test_one_field_can_be_disclosed_without_the_others() -> None:
    body, opening = admitted().encode_entry(AT)
    assert opening is not None
    public = orjson.loads(body)
    key = commitments.field_key(opening.nonce, "reason")
    assert commitments.verify_field(public["reason"], key, "pilot")
    assert not commitments.verify_field(public["reason"], key, "pilot!")
    assert not commitments.verify_field(public["name"], key, "Acme")  # opens only its field


def test_kinds_with_nothing_private_are_published_in_clear_with_no_opening() -> None:
    batch = UsageBatchRecorded(actor="system", count=3, digest="AAAA")
    body, opening = batch.encode_entry(AT)
    assert opening is None
    assert body == batch.encode(AT)
    assert "committed" not in orjson.loads(body)


# --- every kind decides, and the README says what it decided ------------------------


def event_classes() -> dict[str, type[AuditEvent]]:
    found: dict[str, type[AuditEvent]] = {}
    for module in (events, monitoring_events, vetting_events):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, AuditEvent)
                and value is not AuditEvent
            ):
                found[value.kind] = value
    return found


def documented_fields() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The table in the README's "What the public log shows" section:
    kind → (committed fields, fields in clear)."""
    text = README.read_text()
    section = text[text.index("### What the public log shows") :]
    section = section[: section.index("\n### ", 1)]
    table: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        private, public = (tuple(sorted(re.findall(r"`([a-z0-9_]+)`", cell))) for cell in cells[1:])
        table[cells[0].strip("`")] = (private, public)
    return table


def test_every_kind_declares_real_fields_as_private() -> None:
    classes = event_classes()
    assert len(classes) >= 45
    for kind, cls in classes.items():
        names = {field.name for field in dataclasses.fields(cls) if field.name != "actor"}
        assert set(cls.private) <= names, kind
        assert not set(cls.private) & commitments.RESERVED, kind
    assert UsageBatchRecorded.private == ()  # the hot path stays in clear
    assert AccountSignedIn.private == ("source_ip",)
    assert ModelRegistered.private == ()


def test_the_readme_table_is_what_the_code_does() -> None:
    declared = {}
    for kind, cls in event_classes().items():
        names = [field.name for field in dataclasses.fields(cls) if field.name != "actor"]
        public = tuple(sorted(name for name in names if name not in cls.private))
        declared[kind] = (tuple(sorted(cls.private)), public)
    assert documented_fields() == declared


# --- storage: openings beside the log, on each backend -------------------------------


async def append(services: Services, *batch: AuditEvent) -> list[int]:
    async with services.db.transaction() as conn:
        return await services.audit.append_many(conn, list(batch))


async def opening_rows(services: Services) -> int:
    async with services.db.read() as conn:
        return int(await conn.scalar(sa.text("SELECT COUNT(*) FROM audit_openings")) or 0)


async def test_openings_are_stored_with_their_entries_and_read_back_opened(
    services: Services,
) -> None:
    batch = UsageBatchRecorded(actor="system", count=2, digest="digest")
    seqs = await append(services, batch, admitted("Zephyr"), batch)
    assert await opening_rows(services) == 1  # only the entry with private fields
    entries = await services.audit.entries()
    assert [entry.opening is not None for entry in entries] == [False, True, False]
    middle = entries[1]
    assert middle.fields()["name"] == "Zephyr"
    assert middle.fields()["opening"]["verified"] is True
    assert b"Zephyr" not in middle.body
    assert entries[0].fields() == entries[0].public_fields()
    shown = await services.audit.entry(seqs[1])
    assert shown is not None
    assert shown.fields() == middle.fields()
    state = await services.tree.integrate()
    assert state.root == merkle.root_of([merkle.leaf_hash(e.body) for e in entries])


async def test_a_rolled_back_change_leaves_no_opening(services: Services) -> None:
    async def failing_change() -> None:
        async with services.db.transaction() as conn:
            await services.audit.append(conn, admitted())
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await services.audit.count() == 0
    assert await opening_rows(services) == 0


async def test_an_altered_opening_is_flagged_and_never_shown_as_the_value(
    services: Services,
) -> None:
    [seq] = await append(services, admitted("Zephyr", "pilot"))
    forged = rfc8785.dumps({"name": "Someone Else", "reason": "pilot"})
    async with services.db.transaction() as conn:
        await conn.execute(
            sa.text("UPDATE audit_openings SET cleartext = :forged WHERE seq = :seq"),
            {"forged": forged, "seq": seq},
        )
    entry = await services.audit.entry(seq)
    assert entry is not None
    fields = entry.fields()
    assert fields["opening"]["verified"] is False
    assert fields["opening"]["claimed"]["name"] == "Someone Else"
    assert "commitment" in fields["name"]  # the published commitment, not the claim


async def test_an_erased_opening_leaves_the_log_intact(services: Services) -> None:
    [seq] = await append(services, admitted("Zephyr"))
    await services.tree.integrate()
    async with services.db.transaction() as conn:
        await conn.execute(sa.text("DELETE FROM audit_openings WHERE seq = :seq"), {"seq": seq})
    entry = await services.audit.entry(seq)
    assert entry is not None
    assert entry.fields()["opening"] is None
    assert "commitment" in entry.fields()["name"]
    assert (await services.tree.integrate()).root == merkle.leaf_hash(entry.body)


async def test_entries_written_in_clear_before_commitments_still_read(
    services: Services,
) -> None:
    old = admitted("Acme").encode(AT)  # how every entry was written before
    async with services.db.transaction() as conn:
        await conn.execute(sa.text("UPDATE audit_head SET next_seq = 1 WHERE id = 1"))
        await conn.execute(
            audit_entries_table.insert().values(
                seq=0, recorded_at=AT, kind="organization.admitted", actor="operator:op_1", body=old
            )
        )
    [entry] = await services.audit.entries()
    assert entry.opening is None
    assert entry.fields() == orjson.loads(old)
    assert entry.fields()["name"] == "Acme"
