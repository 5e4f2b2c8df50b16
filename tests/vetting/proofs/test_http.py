"""The well-known file proof, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from clearance.vetting.proofs.domain import (
    WELL_KNOWN_PATH,
    DomainError,
    DomainProofResult,
    verify_http,
)
from clearance.vetting.proofs.tokens import new_token
from tests.support.receivers import unused_port
from tests.vetting.conftest import HANG, LocalHttp, Reply


async def verify(site: LocalHttp, token: str, timeout: float = 2.0) -> DomainProofResult:
    return await verify_http(
        "example.org",
        token,
        timeout=timeout,
        base_url_for=lambda _domain: site.url,
        allow_private_addresses=True,
    )


async def test_the_token_in_the_file_proves_control(http_site: LocalHttp) -> None:
    token = new_token()
    http_site.routes[WELL_KNOWN_PATH] = Reply(body=f"{token}\r\n".encode())
    result = await verify(http_site, token)
    assert result == DomainProofResult(
        "http", "example.org", True, f"{http_site.url}{WELL_KNOWN_PATH} holds the token"
    )
    assert http_site.requests == [WELL_KNOWN_PATH]


async def test_a_missing_file(http_site: LocalHttp) -> None:
    result = await verify(http_site, new_token())
    assert not result.verified
    assert result.detail == f"HTTP 404 from {http_site.url}{WELL_KNOWN_PATH}"


async def test_another_token(http_site: LocalHttp) -> None:
    http_site.routes[WELL_KNOWN_PATH] = Reply(body=new_token().encode())
    result = await verify(http_site, new_token())
    assert (
        result.detail == f"the content of {http_site.url}{WELL_KNOWN_PATH} does not match the token"
    )


async def test_the_token_inside_a_larger_page_is_not_enough(http_site: LocalHttp) -> None:
    token = new_token()
    http_site.routes[WELL_KNOWN_PATH] = Reply(body=f"<html>{token}</html>".encode())
    assert not (await verify(http_site, token)).verified


@pytest.mark.parametrize("declared", [True, False])
async def test_an_oversized_body_is_not_read(http_site: LocalHttp, declared: bool) -> None:
    token = new_token()
    body = token.encode() + b" " * (1 << 20)  # would match once stripped
    http_site.routes[WELL_KNOWN_PATH] = Reply(body=body, length=declared)
    result = await verify(http_site, token)
    assert not result.verified
    if declared:
        assert result.detail.endswith(f"is {len(body)} bytes long; the limit is 4096")
    else:
        assert result.detail.endswith("is longer than the limit of 4096 bytes")


async def test_a_compressed_body_is_refused(http_site: LocalHttp) -> None:
    http_site.routes[WELL_KNOWN_PATH] = Reply(
        body=b"\x1f\x8b", headers={"Content-Encoding": "gzip"}
    )
    result = await verify(http_site, new_token())
    assert result.detail.endswith("is sent gzip-encoded; serve it uncompressed")


async def test_a_redirect_on_the_same_host_is_followed(http_site: LocalHttp) -> None:
    token = new_token()
    http_site.routes[WELL_KNOWN_PATH] = Reply(301, headers={"Location": "/moved.txt"})
    http_site.routes["/moved.txt"] = Reply(body=token.encode())
    assert (await verify(http_site, token)).verified
    assert http_site.requests == [WELL_KNOWN_PATH, "/moved.txt"]


async def test_a_redirect_to_another_host_is_not_followed(
    http_site: LocalHttp, other_site: LocalHttp
) -> None:
    token = new_token()
    elsewhere = f"http://localhost:{other_site.port}{WELL_KNOWN_PATH}"
    http_site.routes[WELL_KNOWN_PATH] = Reply(302, headers={"Location": elsewhere})
    other_site.routes[WELL_KNOWN_PATH] = Reply(body=token.encode())
    result = await verify(http_site, token)
    assert not result.verified
    assert "redirects to another host (localhost)" in result.detail
    assert other_site.requests == []


async def test_a_redirect_loop_ends(http_site: LocalHttp) -> None:
    http_site.routes[WELL_KNOWN_PATH] = Reply(302, headers={"Location": WELL_KNOWN_PATH})
    result = await verify(http_site, new_token())
    assert result.detail == f"{http_site.url}{WELL_KNOWN_PATH} redirects more than 3 times"
    assert len(http_site.requests) == 4


async def test_a_server_that_does_not_answer_times_out_in_time(http_site: LocalHttp) -> None:
    http_site.routes[WELL_KNOWN_PATH] = HANG
    result = await verify(http_site, new_token(), timeout=0.5)  # the site never answers
    assert not result.verified
    assert result.detail == f"fetching {http_site.url}{WELL_KNOWN_PATH} timed out after 0.5 s"


async def test_nothing_listening() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    result = await verify_http(
        "example.org", new_token(), base_url_for=lambda _d: url, allow_private_addresses=True
    )
    assert not result.verified
    assert result.detail.startswith(f"could not fetch {url}{WELL_KNOWN_PATH}: ConnectError")


async def test_private_addresses_are_refused_by_default(http_site: LocalHttp) -> None:
    http_site.routes[WELL_KNOWN_PATH] = Reply(body=b"anything")
    result = await verify_http("example.org", new_token(), base_url_for=lambda _d: http_site.url)
    assert result.detail == "127.0.0.1 resolves to 127.0.0.1, which is not a public address"
    assert http_site.requests == []


async def test_invalid_arguments_raise_rather_than_fail() -> None:
    with pytest.raises(DomainError, match="IP address"):
        await verify_http("127.0.0.1", new_token())
    with pytest.raises(ValueError, match="token is malformed"):
        await verify_http("example.org", " ")
