"""Officer e-mail verification: addresses, the message, delivery over real SMTP, and the
one-time links."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from clearance.vetting.proofs.email import (
    EmailError,
    MailDeliveryError,
    OneTimeLinks,
    SmtpMailer,
    clean_display_text,
    validate_email,
    verification_message,
)
from clearance.vetting.proofs.tokens import new_token, token_digest
from tests.support.receivers import LocalSmtp, unused_port

KEY = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
LINK = "https://clearance.example.org/verify-email/" + "a" * 43
SENDER = "vetting@clearance.example.org"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("officer@example.org", "officer@example.org"),
        ("  Jane.Doe+vetting@Example.ORG ", "Jane.Doe+vetting@example.org"),
        ("o'brien@bücher.example", "o'brien@xn--bcher-kva.example"),
        ("a@b.co", "a@b.co"),
        ("x" * 64 + "@example.org", "x" * 64 + "@example.org"),
    ],
)
def test_valid_addresses(text: str, expected: str) -> None:
    assert validate_email(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("officer.example.org", "exactly one @"),
        ("a@b@example.org", "exactly one @"),
        ("@example.org", "nothing before the @"),
        ("officer@", "invalid domain: the domain must not be empty"),
        ("x" * 65 + "@example.org", "65 characters; the limit is 64"),
        ("jürgen@example.org", "internationalized mailboxes are not supported"),
        ('"quoted"@example.org', "may hold letters, digits"),
        ("a..b@example.org", "may hold letters, digits"),
        (".a@example.org", "may hold letters, digits"),
        ("Jane <jane@example.org>", "whitespace or control"),
        ("a@example.org\r\nBcc: b@example.org", "whitespace or control"),
        ("officer@localhost", "invalid domain: 'localhost' is a reserved name"),
        ("officer@192.0.2.1", "is an IP address"),
        ("officer@[192.0.2.1]", "is an IP address"),
        ("a" * 10 + "@" + ".".join(["b" * 60] * 4) + ".org", "258 characters; the limit is 254"),
    ],
)
def test_invalid_addresses(text: str, message: str) -> None:
    with pytest.raises(EmailError) as caught:
        validate_email(text)
    assert message in str(caught.value)


def test_hostile_display_text_is_cleaned() -> None:
    hostile = "Evil\u202eCorp\u2066\u200b\x00\r\nBcc:\u2028victim@example.org\x1b[31m"
    assert clean_display_text(hostile) == "EvilCorp Bcc: victim@example.org[31m"
    assert clean_display_text("x" * 200, 10) == "x" * 9 + "…"
    assert clean_display_text("Société Générale") == "Société Générale"


def test_the_message_says_what_the_link_is_for_and_when_it_expires() -> None:
    expires = datetime(2030, 5, 2, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    message = verification_message("Officer@Example.org", LINK, "Acme Labs", expires)
    assert message["To"] == "Officer@example.org"
    assert message["Subject"] == "Confirm your e-mail address for Acme Labs"
    body = message.get_content()
    assert '"Acme Labs"' in body
    assert "responsible officer" in body
    assert f"\n{LINK}\n" in body
    assert "expires at 2030-05-02 12:30 UTC" in body


def test_the_message_refuses_bad_input() -> None:
    with pytest.raises(EmailError):
        verification_message("a@example.org\nBcc: b@example.org", LINK, "Acme", NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        verification_message("a@example.org", LINK, "Acme", NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="link must be an http"):
        verification_message("a@example.org", "javascript:alert(1)", "Acme", NOW)
    with pytest.raises(ValueError, match="whitespace or control"):
        verification_message("a@example.org", LINK + "\r\nX: y", "Acme", NOW)


# --- delivery over SMTP ------------------------------------------------------------------


def mailer(smtp: LocalSmtp) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", smtp.port, SENDER, timeout=2, local_hostname="tests.local")


async def test_the_message_is_delivered_to_the_officer(smtp_server: LocalSmtp) -> None:
    message = verification_message("officer@example.org", LINK, "Acme Labs", NOW)
    await mailer(smtp_server).send(message)
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["officer@example.org"]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(received, EmailMessage)
    assert received["To"] == "officer@example.org"
    assert received["From"] == SENDER
    assert received["Message-ID"].endswith("@clearance.example.org>")
    assert received["Date"]
    assert LINK in received.get_content()
    assert "From" not in message  # the caller's message is left as it was


async def test_a_hostile_organization_name_arrives_cleaned(smtp_server: LocalSmtp) -> None:
    hostile = "\u202eevil\u202c Corp\r\nBcc: victim@example.org\x07\u200f"
    message = verification_message("officer@example.org", LINK, hostile, NOW)
    await mailer(smtp_server).send(message)
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.rcpt_tos == ["officer@example.org"]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Bcc"] is None
    subject = received["Subject"]
    assert subject == "Confirm your e-mail address for evil Corp Bcc: victim@example.org"
    assert isinstance(received, EmailMessage)
    body = received.get_content().replace("\r\n", "\n")  # the wire's line ends
    assert '"evil Corp Bcc: victim@example.org"' in body
    for char in "\u202e\u202c\u200f\x07\r":
        assert char not in subject
        assert char not in body


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Subject", "Hello\r\nBcc: victim@example.org"),
        ("Subject", "Hello\nX-Injected: 1"),
        ("To", "officer@example.org\r\nBcc: victim@example.org"),
    ],
)
async def test_headers_with_line_breaks_are_refused(
    smtp_server: LocalSmtp, header: str, value: str
) -> None:
    # The default policy already refuses such headers; a compat32 message does not.
    message = EmailMessage(policy=email.policy.compat32)
    message["To"] = "officer@example.org"
    message["Subject"] = "Hello"
    message.replace_header(header, value)
    message.set_payload("body")
    with pytest.raises(EmailError, match=f"the {header} header contains a line break"):
        await mailer(smtp_server).send(message)
    assert smtp_server.inbox.envelopes == []


async def test_exactly_one_valid_recipient(smtp_server: LocalSmtp) -> None:
    message = EmailMessage()
    message["Subject"] = "Hello"
    with pytest.raises(EmailError, match="exactly one To address, not 0"):
        await mailer(smtp_server).send(message)
    message["To"] = "not an address"
    with pytest.raises(EmailError, match="whitespace"):
        await mailer(smtp_server).send(message)
    assert smtp_server.inbox.envelopes == []


async def test_an_unreachable_relay_raises() -> None:
    port = unused_port()
    relay = SmtpMailer("127.0.0.1", port, SENDER, timeout=1, local_hostname="tests.local")
    message = verification_message("officer@example.org", LINK, "Acme", NOW)
    with pytest.raises(MailDeliveryError, match=f"through 127.0.0.1:{port}: .*refused"):
        await relay.send(message)


def test_credentials_only_over_starttls() -> None:
    with pytest.raises(ValueError, match="only over STARTTLS"):
        SmtpMailer("smtp.example.org", 25, SENDER, username="u", password="p")
    with pytest.raises(ValueError, match="both"):
        SmtpMailer("smtp.example.org", 587, SENDER, starttls=True, username="u")
    relay = SmtpMailer("smtp.example.org", 587, SENDER, starttls=True, username="u", password="pw")
    assert "pw" not in repr(relay)


# --- one-time links ----------------------------------------------------------------------

LINKS = OneTimeLinks("https://clearance.example.org/", KEY)


def test_links_carry_the_token_under_the_base_url() -> None:
    issued = LINKS.issue(NOW)
    assert issued.link == f"https://clearance.example.org/verify-email/{issued.token}"
    assert issued.digest == token_digest(KEY, issued.token)
    assert issued.expires_at == NOW + timedelta(hours=24)
    assert issued.token not in repr(issued)
    assert "0123" not in repr(LINKS)


def test_check_states() -> None:
    issued = LINKS.issue(NOW)
    later = NOW + timedelta(hours=1)

    def check(presented: str, used_at: datetime | None = None, now: datetime = later) -> str:
        return LINKS.check(presented, issued.digest, issued.expires_at, used_at, now)

    assert check(issued.token) == "ok"
    assert check(issued.token, used_at=later) == "used"
    assert check(issued.token, now=issued.expires_at) == "expired"
    assert check(issued.token, now=issued.expires_at - timedelta(microseconds=1)) == "ok"
    # A wrong token learns nothing about the link's state.
    for wrong in (new_token(), "", issued.token[:-1], issued.token + "A", "x" * 5000):
        assert check(wrong) == "invalid"
        assert check(wrong, used_at=later, now=issued.expires_at) == "invalid"
    assert (
        OneTimeLinks("https://c.example.org", b"another key of 32 bytes.........").check(
            issued.token, issued.digest, issued.expires_at, None, later
        )
        == "invalid"
    )


def test_naive_times_are_refused() -> None:
    issued = LINKS.issue(NOW)
    with pytest.raises(ValueError, match="expires_at must be timezone-aware"):
        LINKS.check(issued.token, issued.digest, issued.expires_at.replace(tzinfo=None), None, NOW)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        LINKS.issue(NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("base_url", "key", "message"),
    [
        ("ftp://clearance.example.org", KEY, "base_url must be an http"),
        ("https://clearance.example.org/?next=x", KEY, "query or fragment"),
        ("https://clearance.example.org", b"short", "at least 16 bytes"),
    ],
)
def test_links_configuration_is_checked(base_url: str, key: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OneTimeLinks(base_url, key)


def test_check_is_fast_enough_for_a_request_path() -> None:
    issued = LINKS.issue(NOW)
    started = time.perf_counter()
    for _ in range(1000):
        LINKS.check(issued.token, issued.digest, issued.expires_at, None, NOW)
    assert time.perf_counter() - started < 1
