"""The checks an applicant passes before approval, besides screening: control of the
website domain (a DNS TXT record or a ``/.well-known/`` file holding a token), the
officer's e-mail address (a one-time link), and the officer's acceptance of a specific
version of the terms of access (made through that same link)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from clearance.settings import Settings
from clearance.vetting.applications import load, step
from clearance.vetting.events import TermsPublished
from clearance.vetting.models import Application, applications_table, terms_table
from clearance.vetting.proofs import domain as domain_proof
from clearance.vetting.proofs.email import (
    MailDeliveryError,
    Mailer,
    OneTimeLinks,
    verification_message,
)
from clearance.vetting.proofs.tokens import expected_txt, new_token, token_digest
from clearance.vetting.states import AppStatus

OPEN = frozenset({AppStatus.SUBMITTED, AppStatus.SCREENING, AppStatus.IN_REVIEW})
_apps = applications_table.c


@dataclass(frozen=True, slots=True)
class DomainChallenge:
    domain: str
    token: str
    dns_name: str
    dns_value: str
    http_url: str


@dataclass(frozen=True, slots=True)
class Terms:
    version: str
    text: str
    sha256: str


class Checks:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
        secret: bytes,
        mailer: Mailer,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._mailer = mailer
        self._links = OneTimeLinks(
            settings.public_url, secret, timedelta(hours=settings.email_link_hours)
        )
        self._secret = secret

    # Domain control

    async def domain_challenge(self, actor: str, application_id: str) -> DomainChallenge:
        """A fresh token for the applicant to publish (replacing any earlier one)."""
        token = new_token()
        async with self._db.transaction() as conn:
            app = _open(await load(conn, application_id, lock=True))
            await step(
                conn,
                self._audit,
                app,
                "domain_challenge",
                actor,
                self._clock.now(),
                values={"domain_token": token, "domain_verified_at": None, "domain_method": None},
            )
        return self._challenge(app.form.website_domain, token)

    def _challenge(self, domain: str, token: str) -> DomainChallenge:
        scheme = self._settings.domain_proof_scheme
        return DomainChallenge(
            domain=domain,
            token=token,
            dns_name=domain_proof.challenge_name(domain),
            dns_value=expected_txt(token),
            http_url=f"{scheme}://{domain}{domain_proof.WELL_KNOWN_PATH}",
        )

    async def verify_domain(
        self, actor: str, application_id: str, method: str, http_base: str | None = None
    ) -> domain_proof.DomainProofResult:
        """Look for the token now; the outcome is recorded either way."""
        async with self._db.read() as conn:
            app = _open(await load(conn, application_id))
            token = await conn.scalar(sa.select(_apps.domain_token).where(_apps.id == app.id))
        if token is None:
            raise InvalidState("no domain challenge was issued; ask for one first")
        domain = app.form.website_domain
        if method == "dns":
            nameservers, port = self._resolver()
            result = await domain_proof.verify_dns(
                domain, token, nameservers=nameservers, port=port
            )
        elif method == "http":
            result = await domain_proof.verify_http(
                domain,
                token,
                scheme="http" if self._settings.domain_proof_scheme == "http" else "https",
                base_url_for=(lambda _d: http_base) if http_base else None,
                allow_private_addresses=http_base is not None,
            )
        else:
            raise InvalidInput("method must be dns or http", "method")
        now = self._clock.now()
        async with self._db.transaction() as conn:
            app = _open(await load(conn, application_id, lock=True))
            values = {"domain_verified_at": now, "domain_method": method} if result.verified else {}
            await step(
                conn,
                self._audit,
                app,
                "domain_verified" if result.verified else "domain_failed",
                actor,
                now,
                None,
                {"method": method, "domain": domain, "detail": result.detail},
                values,
            )
        return result

    def _resolver(self) -> tuple[list[str] | None, int]:
        """The configured resolvers (``host`` or ``host:port``; one port for all)."""
        if not self._settings.dns_nameservers:
            return None, 53
        hosts, port = [], 53
        for server in self._settings.dns_nameservers:
            host, colon, given = server.rpartition(":")
            if colon and server.count(":") == 1:
                hosts.append(host)
                port = int(given)
            else:
                hosts.append(server)
        return hosts, port

    # Officer e-mail and terms

    async def send_email_link(self, actor: str, application_id: str) -> str:
        """E-mail the officer a one-time link; returns the address it went to. The link
        is recorded only once the mail server has accepted the message (a link that
        was never delivered does not exist; one delivered but unrecorded just fails)."""
        now = self._clock.now()
        issued = self._links.issue(now)
        async with self._db.read() as conn:
            app = _open(await load(conn, application_id))
        message = verification_message(
            app.form.officer.email, issued.link, app.form.legal_name, issued.expires_at
        )
        try:
            await self._mailer.send(message)
        except MailDeliveryError as exc:
            raise InvalidState(f"the mail server did not take the message: {exc}") from None
        async with self._db.transaction() as conn:
            app = _open(await load(conn, application_id, lock=True))
            await step(
                conn,
                self._audit,
                app,
                "email_link_sent",
                actor,
                now,
                None,
                {"to": app.form.officer.email, "expires_at": issued.expires_at.isoformat()},
                {"email_token_digest": issued.digest, "email_token_expires_at": issued.expires_at},
            )
        return app.form.officer.email

    async def link_details(self, token: str) -> tuple[Application, Terms]:
        """What the officer sees on opening the link: the application and the terms."""
        async with self._db.read() as conn:
            app = await self._by_token(conn, token)
            return app, await _current_terms(conn)

    async def confirm_email(self, token: str, terms_version: str) -> Application:
        """The officer followed the link and accepts ``terms_version``: their address is
        verified and their acceptance recorded (text hash, time, who). One use."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            app = await self._by_token(conn, token, lock=True)
            terms = await _current_terms(conn)
            if terms_version != terms.version:
                raise InvalidInput(
                    f"the current terms are version {terms.version!r}; accept that one",
                    "accept_terms_version",
                )
            officer = app.form.officer.email
            return await step(
                conn,
                self._audit,
                app,
                "email_verified",
                f"officer:{officer}",
                now,
                None,
                {"terms_version": terms.version, "terms_sha256": terms.sha256},
                {
                    "email_verified_at": now,
                    "email_token_expires_at": None,
                    "terms_version": terms.version,
                    "terms_sha256": terms.sha256,
                    "terms_accepted_at": now,
                    "terms_accepted_by": officer,
                },
            )

    async def _by_token(self, conn: AsyncConnection, token: str, lock: bool = False) -> Application:
        digest = token_digest(self._secret, token) if len(token) <= 128 else ""
        query = sa.select(applications_table).where(_apps.email_token_digest == digest)
        row = (await conn.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise NotFound("this link is not valid")
        app = Application.from_row(row)
        if row.email_token_expires_at is None:
            raise InvalidState("this link was already used")
        state = self._links.check(
            token, digest, row.email_token_expires_at, None, self._clock.now()
        )
        if state != "ok":
            raise InvalidState(f"this link is {state}; ask for a new one")
        _open(app)
        return app

    # Terms of access

    async def publish_terms(self, actor: str, version: str, text: str) -> Terms:
        version = validation.slug(version, "version", 64)
        text = validation.free_text(text, "text", 200_000)
        terms = Terms(version, text, hashlib.sha256(text.encode()).hexdigest())
        async with self._db.transaction() as conn:
            if await conn.scalar(
                sa.select(terms_table.c.version).where(terms_table.c.version == version)
            ):
                raise AlreadyExists(f"terms version {version!r} already exists")
            last = await conn.scalar(sa.select(sa.func.max(terms_table.c.seq)))
            await conn.execute(
                terms_table.insert().values(
                    seq=(last or 0) + 1,
                    version=version,
                    text=text,
                    sha256=terms.sha256,
                    published_at=self._clock.now(),
                    published_by=actor,
                )
            )
            await self._audit.append(
                conn, TermsPublished(actor=actor, terms_version=version, sha256=terms.sha256)
            )
        return terms

    async def current_terms(self) -> Terms:
        async with self._db.read() as conn:
            return await _current_terms(conn)


async def _current_terms(conn: AsyncConnection) -> Terms:
    row = (
        await conn.execute(
            sa.select(terms_table).order_by(terms_table.c.seq.desc().nulls_last()).limit(1)
        )
    ).first()
    if row is None:
        raise InvalidState("no terms of access are published yet ('clearance terms publish')")
    return Terms(row.version, row.text, row.sha256)


def _open(app: Application) -> Application:
    if app.status not in OPEN:
        raise InvalidState(
            f"the application is {app.status.value}; checks are done before approval"
        )
    return app
