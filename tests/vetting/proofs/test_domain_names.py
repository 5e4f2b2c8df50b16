"""What a declared domain may be."""

from __future__ import annotations

import pytest

from clearance.vetting.proofs.domain import DomainError, challenge_name, normalize_domain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.org", "example.org"),
        ("  Example.ORG  ", "example.org"),
        ("example.org.", "example.org"),
        ("sub.example.co.uk", "sub.example.co.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例え.テスト。jp", "xn--r8jz45g.xn--zckzah.jp"),
        ("a-b.example.org", "a-b.example.org"),
        ("1password.com", "1password.com"),
        ("a" * 63 + ".org", "a" * 63 + ".org"),
    ],
)
def test_accepted(text: str, expected: str) -> None:
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("https://x.com/", 'is a URL, not a domain; enter just "x.com"'),
        ("http://Example.org:8080/path", 'enter just "example.org"'),
        ("x.com/path", 'has a path; enter just "x.com"'),
        ("x.com?a=1", 'has a query; enter just "x.com"'),
        ("x.com:443", 'has a port; enter just "x.com"'),
        ("officer@x.com", "looks like an e-mail address"),
        ("192.0.2.1", "is an IP address"),
        ("2001:db8::1", "is an IP address"),
        ("[2001:db8::1]", "is an IP address"),
        ("127.1", "looks like an IP address"),
        ("localhost", "reserved name (.localhost)"),
        ("app.localhost", "reserved name (.localhost)"),
        ("printer.local", "reserved name (.local)"),
        ("com", "single label"),
        ("intranet", "single label"),
        ("a" * 64 + ".org", "label of 64 characters; the limit is 63"),
        (".".join(["a" * 63] * 4), "is 255 characters long; the limit is 253"),
        ("example..org", "empty label"),
        (".example.org", "empty label"),
        ("exa mple.org", "contains whitespace"),
        ("-bad.example.org", "invalid label '-bad'"),
        ("under_score.example.org", "invalid label 'under_score'"),
        ("xn--zz.example.org", "invalid punycode label 'xn--zz'"),
        ("faß.de", "IDNA 2003 maps to 'ss'"),
        ("bad\u200d.example.org", "IDNA 2003 maps to ''"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_domain(text)
    assert message in str(caught.value)


def test_domain_error_is_a_value_error() -> None:
    assert issubclass(DomainError, ValueError)


def test_challenge_name() -> None:
    assert challenge_name("Example.org") == "_clearance-challenge.example.org"
