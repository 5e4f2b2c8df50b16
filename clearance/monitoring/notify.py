"""Telling an organization what enforcement did: a signed webhook and e-mail.

Each organization may register one webhook URL. Clearance makes its signing secret
(shown once, stored sealed under the server secret) and signs every delivery the way
Stripe and Svix do: ``Clearance-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">``, so the receiver checks both the body and its freshness. E-mail goes
to the organization's active officers and admins. Every delivery attempt, delivered
or not, is an audit entry (never with the secret or the body).

Deliveries run in the background, one task each, so taking an action never waits on
an organization's server; :meth:`Notifier.drain` waits for them (shutdown, tests).
Each is tried once (its outcome audited); redirects are not followed. The URL is set
by an operator, never by the organization, and may not carry credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import sqlalchemy as sa
import structlog

from clearance import validation
from clearance.accounts.sealing import Sealer
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.db.schema import UTCDateTime, metadata
from clearance.errors import InvalidInput
from clearance.identity.models import MemberRole, Status, members_table
from clearance.identity.organizations import find_org
from clearance.monitoring.events import NotificationSent, WebhookSet
from clearance.vetting.proofs.email import Mailer

log = structlog.get_logger(__name__)

webhooks_table = sa.Table(
    "org_webhooks",
    metadata,
    sa.Column("org_id", sa.ForeignKey("organizations.id"), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.Column("set_by", sa.String(128), nullable=False),
)
_hooks = webhooks_table.c
_members = members_table.c
TIMEOUT = 5.0
SIGNATURE_HEADER = "Clearance-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Clearance-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class Notifier:
    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, mailer: Mailer, server_secret: bytes
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._mailer = mailer
        self._sealer = Sealer(server_secret, b"org webhook")
        self._tasks: set[asyncio.Task[None]] = set()

    async def set_webhook(self, actor: str, org: str, url: str | None) -> str | None:
        """Register (or with None remove) an organization's webhook; returns the new
        signing secret, which is shown this once."""
        if url is not None:
            url = validation.http_url(url, "url")
            if urlsplit(url).username is not None or "@" in urlsplit(url).netloc:
                raise InvalidInput("put no credentials in the webhook URL", "url")
        secret = f"whsec_{secrets.token_urlsafe(32)}" if url is not None else None
        async with self._db.transaction() as conn:
            organization = await find_org(conn, org)
            await conn.execute(webhooks_table.delete().where(_hooks.org_id == organization.id))
            if url is not None and secret is not None:
                await conn.execute(
                    webhooks_table.insert().values(
                        org_id=organization.id,
                        url=url,
                        secret_sealed=self._sealer.seal(secret, organization.id),
                        set_at=self._clock.now(),
                        set_by=actor,
                    )
                )
            await self._audit.append(conn, WebhookSet(actor=actor, org_id=organization.id, url=url))
        return secret

    def send(self, org_id: str, event: str, subject: str, document: dict[str, Any]) -> None:
        """Notify ``org_id`` of ``event`` in the background."""
        task = asyncio.create_task(self._deliver(org_id, event, subject, document))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(
        self, org_id: str, event: str, subject: str, document: dict[str, Any]
    ) -> None:
        try:
            await asyncio.gather(
                self._webhook(org_id, event, subject, document),
                self._emails(org_id, event, subject, document),
            )
        except Exception:
            log.exception("notification_failed", org_id=org_id, subject=subject)

    async def _webhook(
        self, org_id: str, event: str, subject: str, document: dict[str, Any]
    ) -> None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(sa.select(webhooks_table).where(_hooks.org_id == org_id))
            ).first()
        if row is None:
            return
        now = self._clock.now()
        body = orjson.dumps(
            {"type": event, "created": now, "data": document}, option=orjson.OPT_UTC_Z
        )
        headers = {
            "content-type": "application/json",
            "clearance-event": event,
            SIGNATURE_HEADER: sign(
                self._sealer.open(row.secret_sealed, org_id), int(now.timestamp()), body
            ),
        }
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
                response = await client.post(row.url, content=body, headers=headers)
            delivered, detail = response.is_success, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            delivered, detail = False, type(exc).__name__
        await self._record(org_id, "webhook", subject, row.url, delivered, detail)

    async def _emails(
        self, org_id: str, event: str, subject: str, document: dict[str, Any]
    ) -> None:
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(_members.email).where(
                    (_members.org_id == org_id)
                    & (_members.status == Status.ACTIVE.value)
                    & _members.role.in_([MemberRole.OFFICER.value, MemberRole.ADMIN.value])
                )
            )
            recipients = sorted({row.email for row in rows})
        for recipient in recipients:
            message = EmailMessage()
            message["To"] = recipient
            message["Subject"] = f"Clearance: {subject}"
            message.set_content(_email_text(event, document))
            try:
                await self._mailer.send(message)
                delivered, detail = True, "sent"
            except Exception as exc:  # recorded, never raised
                delivered, detail = False, type(exc).__name__
            await self._record(org_id, "email", subject, recipient, delivered, detail)

    async def _record(
        self, org_id: str, channel: str, subject: str, recipient: str, delivered: bool, detail: str
    ) -> None:
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                NotificationSent(
                    actor="system",
                    org_id=org_id,
                    channel=channel,
                    subject=subject,
                    recipient=recipient,
                    delivered=delivered,
                    detail=detail,
                ),
            )


def _email_text(event: str, document: dict[str, Any]) -> str:
    lines = [f"Clearance {event}", ""]
    for name, value in document.items():
        if value is None:
            continue
        shown = value.isoformat() if isinstance(value, datetime) else value
        lines.append(f"{name}: {shown}")
    lines += ["", "To appeal, write to your program contact, quoting the action id."]
    return "\n".join(lines) + "\n"
