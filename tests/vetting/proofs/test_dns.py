"""The DNS TXT proof, against a real DNS server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from clearance.vetting.proofs.domain import DomainError, DomainProofResult, verify_dns
from clearance.vetting.proofs.tokens import expected_txt, new_token
from tests.support.receivers import unused_port
from tests.vetting.conftest import LocalDns

NAME = "_clearance-challenge.example.org"


async def verify(dns: LocalDns, token: str, domain: str = "example.org") -> DomainProofResult:
    return await verify_dns(domain, token, nameservers=["127.0.0.1"], port=dns.port, timeout=0.5)


async def test_the_expected_record_proves_control(dns_server: LocalDns) -> None:
    token = new_token()
    dns_server.zone.records[NAME] = [["v=spf1 -all"], [expected_txt(token)]]
    result = await verify(dns_server, token, "Example.ORG.")
    assert result == DomainProofResult(
        "dns", "example.org", True, f"TXT record at {NAME} holds the expected value"
    )
    assert dns_server.zone.queries == [NAME]


async def test_surrounding_whitespace_is_ignored(dns_server: LocalDns) -> None:
    token = new_token()
    dns_server.zone.records[NAME] = [[f"  {expected_txt(token)}\n"]]
    assert (await verify(dns_server, token)).verified


async def test_a_record_split_into_strings_is_joined(dns_server: LocalDns) -> None:
    token = new_token()
    text = expected_txt(token)
    dns_server.zone.records[NAME] = [[text[:10], text[10:30], text[30:]]]
    assert (await verify(dns_server, token)).verified


async def test_another_token_does_not(dns_server: LocalDns) -> None:
    dns_server.zone.records[NAME] = [[expected_txt(new_token())], ["other"]]
    result = await verify(dns_server, new_token())
    assert not result.verified
    assert result.detail == f"2 TXT record(s) found at {NAME} but none holds the expected value"


async def test_the_bare_token_or_a_prefix_is_not_enough(dns_server: LocalDns) -> None:
    token = new_token()
    dns_server.zone.records[NAME] = [
        [token],
        [expected_txt(token)[:-1]],
        [expected_txt(token) + "x"],
    ]
    assert not (await verify(dns_server, token)).verified


async def test_nxdomain(dns_server: LocalDns) -> None:
    result = await verify(dns_server, new_token())
    assert not result.verified
    assert result.detail == f"no TXT record at {NAME} (NXDOMAIN: the name does not exist)"


async def test_a_name_without_txt_records(dns_server: LocalDns) -> None:
    dns_server.zone.records[NAME] = []
    result = await verify(dns_server, new_token())
    assert result.detail == f"no TXT record at {NAME}"


async def test_a_server_that_does_not_answer_times_out_in_time() -> None:
    result = await verify_dns(  # nothing listens there
        "example.org",
        new_token(),
        nameservers=["127.0.0.1"],
        port=unused_port(socket.SOCK_DGRAM),
        timeout=0.5,
    )
    assert not result.verified
    assert result.detail == f"DNS lookup of {NAME} timed out after 0.5 s"


async def test_invalid_arguments_raise_rather_than_fail() -> None:
    with pytest.raises(DomainError):
        await verify_dns("https://example.org/", new_token(), nameservers=["127.0.0.1"])
    with pytest.raises(ValueError, match="token is malformed"):
        await verify_dns("example.org", "", nameservers=["127.0.0.1"])
