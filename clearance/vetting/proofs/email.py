"""Proof that the responsible officer controls their e-mail address: a one-time link.

:class:`OneTimeLinks` issues and checks the links without keeping any state (the caller
stores the digest, the expiry and when the link was used); :func:`verification_message`
writes the e-mail and a :class:`Mailer` (:class:`SmtpMailer`) sends it.
"""

from __future__ import annotations

import asyncio
import copy
import re
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, Protocol
from urllib.parse import urlsplit

from clearance.vetting.proofs.domain import DomainError, normalize_domain
from clearance.vetting.proofs.tokens import is_well_formed, new_token, token_digest, token_matches

MAX_LOCAL_PART = 64
MAX_ADDRESS = 254
DEFAULT_LINK_TTL = timedelta(hours=24)
LINK_PATH = "/verify-email/"

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_HIDDEN = {"Cc", "Cf", "Co", "Cs", "Cn"}  # controls, format (bidi overrides, zero-width)
_SPACES = {"Zs", "Zl", "Zp"}

LinkState = Literal["ok", "expired", "used", "invalid"]


class EmailError(ValueError):
    """An address or message that must not be sent; the message says why."""


class MailDeliveryError(Exception):
    """The mail server could not be reached or refused the message."""


def validate_email(text: str) -> str:
    """The address with its domain normalized (lower-case, punycode).

    ASCII dot-atom local parts only: quoted and internationalized (SMTPUTF8) local parts
    are refused, and the domain must pass :func:`normalize_domain`.
    """
    address = text.strip()
    if not address:
        raise EmailError("the e-mail address must not be empty")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in address):
        raise EmailError(f"{address!r} contains whitespace or control characters")
    if address.count("@") != 1:
        raise EmailError(f"{address!r} must contain exactly one @")
    local, domain = address.split("@")
    if not local:
        raise EmailError(f"{address!r} has nothing before the @")
    if not local.isascii():
        raise EmailError(
            f"{address!r} has non-ASCII characters before the @; internationalized "
            "mailboxes are not supported, use an ASCII address"
        )
    if len(local) > MAX_LOCAL_PART:
        raise EmailError(
            f"the part before the @ is {len(local)} characters; the limit is {MAX_LOCAL_PART}"
        )
    if not all(_ATOM.fullmatch(atom) for atom in local.split(".")):
        raise EmailError(
            f"{address!r}: the part before the @ may hold letters, digits and "
            "!#$%&'*+/=?^_`{|}~- in runs separated by single dots"
        )
    try:
        normalized = f"{local}@{normalize_domain(domain)}"
    except DomainError as exc:
        raise EmailError(f"{address!r} has an invalid domain: {exc}") from None
    if len(normalized) > MAX_ADDRESS:
        raise EmailError(f"{address!r} is {len(normalized)} characters; the limit is 254")
    return normalized


def clean_display_text(text: str, limit: int = 120) -> str:
    """``text`` safe to show in a subject or body: NFC, without control, format (bidi
    override, zero-width) or private-use characters, whitespace collapsed, shortened."""
    kept = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char.isspace() or category in _SPACES:
            kept.append(" ")
        elif category not in _HIDDEN:
            kept.append(char)
    cleaned = " ".join("".join(kept).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _require_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ValueError(f"{name} must be an http:// or https:// URL, not {url!r}")
    if any(char.isspace() or unicodedata.category(char) in _HIDDEN for char in url):
        raise ValueError(f"{name} must not contain whitespace or control characters")


def verification_message(
    to: str, link: str, organization: str, expires_at: datetime
) -> EmailMessage:
    """The plain-text e-mail asking the officer at ``to`` to open ``link``.

    The organization's name is the applicant's own text: control and bidi-override
    characters are removed before it goes into the subject or the body.
    """
    address = validate_email(to)
    _require_url(link, "link")
    _require_aware(expires_at, "expires_at")
    name = clean_display_text(organization) or "(unnamed)"
    when = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    message = EmailMessage()
    message["To"] = address
    message["Subject"] = f"Confirm your e-mail address for {clean_display_text(name, 60)}"
    message.set_content(
        f'The organization "{name}" has applied for access to restricted AI models\n'
        f"through Clearance and named {address} as its responsible officer.\n"
        "\n"
        "If this is your address and you accept that role, confirm it by opening:\n"
        "\n"
        f"{link}\n"
        "\n"
        f"The link works once and expires at {when}.\n"
        "\n"
        "If you did not expect this message, do not open the link: nothing is confirmed\n"
        "unless you do, and you can ignore this e-mail.\n"
    )
    return message


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its one ``To`` recipient (or raise)."""


class SmtpMailer:
    """Sends through an SMTP relay with :mod:`smtplib`, in a worker thread."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        timeout: float = 10.0,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both an SMTP username and a password, or neither")
        if username is not None and not starttls:
            raise ValueError("SMTP credentials are sent only over STARTTLS: set starttls=True")
        self._host = host
        self._port = port
        self._sender = validate_email(sender)
        self._timeout = timeout
        self._starttls = starttls
        self._username = username
        self._password = password
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpMailer({self._host}:{self._port}, sender={self._sender})"

    async def send(self, message: EmailMessage) -> None:
        """Send ``message`` to its ``To`` address, adding From, Date and Message-ID.

        Raises :class:`EmailError` for a header holding a line break or a missing or
        invalid recipient, :class:`MailDeliveryError` when the relay fails.
        """
        for header, value in message.items():
            if "\r" in str(value) or "\n" in str(value):
                raise EmailError(f"the {header} header contains a line break")
        recipients = message.get_all("To") or []
        if len(recipients) != 1:
            raise EmailError(f"a message needs exactly one To address, not {len(recipients)}")
        recipient = validate_email(str(recipients[0]))
        outgoing = copy.deepcopy(message)
        for header in ("From", "Date", "Message-ID"):
            del outgoing[header]
        outgoing["From"] = self._sender
        outgoing["Date"] = format_datetime(datetime.now(UTC))
        outgoing["Message-ID"] = make_msgid(domain=self._sender.rsplit("@", 1)[1])
        await asyncio.to_thread(self._deliver, outgoing, recipient)

    def _deliver(self, message: EmailMessage, recipient: str) -> None:
        try:
            with smtplib.SMTP(
                self._host, self._port, self._local_hostname, timeout=self._timeout
            ) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username is not None and self._password is not None:
                    smtp.login(self._username, self._password)
                smtp.send_message(message, from_addr=self._sender, to_addrs=[recipient])
        except (smtplib.SMTPException, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise MailDeliveryError(
                f"could not send to {recipient} through {self._host}:{self._port}: {reason}"
            ) from exc


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A fresh link: ``token`` and ``link`` go into the e-mail only; store ``digest``
    and ``expires_at``."""

    token: str = field(repr=False)
    link: str = field(repr=False)
    digest: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OneTimeLinks:
    """Builds ``<base_url>/verify-email/<token>`` links and checks presented tokens.

    Holds no state: the caller stores the digest, the expiry and the time of use.
    """

    base_url: str
    key: bytes = field(repr=False)
    ttl: timedelta = DEFAULT_LINK_TTL

    def __post_init__(self) -> None:
        _require_url(self.base_url, "base_url")
        if urlsplit(self.base_url).query or urlsplit(self.base_url).fragment:
            raise ValueError("base_url must not have a query or fragment")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        token_digest(self.key, "")  # refuses a short key now rather than at first use
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")

    def link(self, token: str) -> str:
        if not is_well_formed(token):
            raise ValueError("the token is malformed (expected a token from new_token())")
        return f"{self.base_url}{LINK_PATH}{token}"

    def issue(self, now: datetime) -> IssuedLink:
        _require_aware(now, "now")
        token = new_token()
        return IssuedLink(token, self.link(token), token_digest(self.key, token), now + self.ttl)

    def check(
        self,
        presented: str,
        digest: str,
        expires_at: datetime,
        used_at: datetime | None,
        now: datetime,
    ) -> LinkState:
        """``invalid`` unless ``presented`` hashes to ``digest``; then ``used`` if the
        link was used, ``expired`` from ``expires_at`` on, else ``ok``."""
        _require_aware(now, "now")
        _require_aware(expires_at, "expires_at")
        if not is_well_formed(presented) or not token_matches(self.key, presented, digest):
            return "invalid"
        if used_at is not None:
            return "used"
        if now >= expires_at:
            return "expired"
        return "ok"
