"""Proof that an applicant controls its domain: a DNS TXT record or a well-known file.

Both checks fail closed: whatever goes wrong on the network, :func:`verify_dns` and
:func:`verify_http` return ``verified=False`` with a detail precise enough to show the
applicant; they raise only for invalid arguments (:class:`DomainError`, ``ValueError``).
"""

from __future__ import annotations

import asyncio
import encodings.idna
import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from clearance.vetting.proofs.tokens import expected_txt, is_well_formed

CHALLENGE_LABEL = "_clearance-challenge"
WELL_KNOWN_PATH = "/.well-known/clearance-verification.txt"
DEFAULT_DNS_TIMEOUT = 3.0
DEFAULT_HTTP_TIMEOUT = 5.0
MAX_BODY_BYTES = 4096
MAX_REDIRECTS = 3

_LDH = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_DEVIATIONS = {"ß": "ss", "ς": "σ", "\u200c": "", "\u200d": ""}  # noqa: RUF001
_RESERVED_TLDS = {"localhost", "local", "internal", "invalid", "test", "arpa", "onion"}


class DomainError(ValueError):
    """A declared domain that cannot be verified; the message says why."""


@dataclass(frozen=True, slots=True)
class DomainProofResult:
    method: Literal["dns", "http"]
    domain: str
    verified: bool
    detail: str


def normalize_domain(text: str) -> str:
    """The domain as verified and stored: lower-case ASCII, IDN labels in punycode.

    Refuses IP addresses, ``localhost`` and reserved top-level domains, single-label
    names, URLs (suggesting the bare domain), and names DNS cannot carry.
    """
    raw = text.strip()
    if not raw:
        raise DomainError("the domain must not be empty")
    _refuse_urls(raw)
    if any(char.isspace() for char in raw):
        raise DomainError(f"{raw!r} contains whitespace; enter a domain such as example.org")
    _refuse_ip(raw)
    labels = _DOTS.split(raw.lower())
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()  # a fully qualified name's trailing dot
    ascii_labels = [_ascii_label(label, raw) for label in labels]
    domain = ".".join(ascii_labels)
    if ascii_labels[-1] in _RESERVED_TLDS:
        raise DomainError(f"{raw!r} is a reserved name (.{ascii_labels[-1]}), not on the Internet")
    if len(ascii_labels) < 2:
        raise DomainError(f"{raw!r} is a single label; enter a full domain such as example.org")
    if len(domain) > 253:
        raise DomainError(f"{raw!r} is {len(domain)} characters long; the limit is 253")
    if ascii_labels[-1].isdigit():
        raise DomainError(f"{raw!r} looks like an IP address; enter a domain name")
    return domain


def _refuse_urls(raw: str) -> None:
    if "://" in raw or raw.startswith("//"):
        host = urlsplit(raw if "://" in raw else "http:" + raw).hostname or ""
        hint = f'; enter just "{host}"' if host else ""
        raise DomainError(f"{raw!r} is a URL, not a domain{hint}")
    if "@" in raw:
        raise DomainError(f"{raw!r} looks like an e-mail address; enter only the domain")
    for mark, what in (("/", "a path"), ("?", "a query"), ("#", "a fragment")):
        if mark in raw:
            host = re.split(r"[/?#]", raw, maxsplit=1)[0]
            raise DomainError(f'{raw!r} has {what}; enter just "{host}"')
    if ":" in raw and not _is_ip(raw.strip("[]")):
        host = raw.rsplit(":", 1)[0]
        raise DomainError(f'{raw!r} has a port; enter just "{host}"')


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _refuse_ip(raw: str) -> None:
    if _is_ip(raw.strip("[]")):
        raise DomainError(f"{raw!r} is an IP address; enter a domain name")


def _ascii_label(label: str, raw: str) -> str:
    if not label:
        raise DomainError(f"{raw!r} has an empty label (two dots in a row, or a leading dot)")
    for char, mapped in _DEVIATIONS.items():
        if char in label:
            raise DomainError(
                f"{raw!r} contains {char!r}, which IDNA 2003 maps to {mapped!r} but IDNA 2008 "
                "keeps; enter the punycode (xn--) form of the name you registered"
            )
    if not label.isascii():
        try:
            label = encodings.idna.ToASCII(label).decode("ascii")
        except UnicodeError:
            raise DomainError(f"{raw!r} has a label that is not a valid IDN: {label!r}") from None
    if len(label) > 63:
        raise DomainError(f"{raw!r} has a label of {len(label)} characters; the limit is 63")
    if not _LDH.fullmatch(label):
        raise DomainError(
            f"{raw!r} has an invalid label {label!r}: use letters, digits and inner hyphens"
        )
    if label.startswith("xn--"):
        try:
            label.encode("ascii").decode("idna")
        except UnicodeError:
            raise DomainError(f"{raw!r} has an invalid punycode label {label!r}") from None
    return label


def challenge_name(domain: str) -> str:
    """Where the TXT record goes: ``_clearance-challenge.<domain>``."""
    return f"{CHALLENGE_LABEL}.{normalize_domain(domain)}"


def _require_token(token: str) -> None:
    if not is_well_formed(token):
        raise ValueError("the challenge token is malformed (expected a token from new_token())")


async def verify_dns(
    domain: str,
    token: str,
    *,
    nameservers: Sequence[str] | None = None,
    port: int = 53,
    timeout: float = DEFAULT_DNS_TIMEOUT,  # noqa: ASYNC109 (reported in the detail)
) -> DomainProofResult:
    """Whether a TXT record at ``_clearance-challenge.<domain>`` reads
    ``clearance-verification=<token>``.

    ``nameservers=None`` asks the system's resolver; otherwise the given servers on
    ``port``. ``timeout`` bounds the whole lookup (no retries beyond it).
    """
    # dnspython loads here, for the lookup: every CLI command starts faster without it.
    import dns.asyncresolver  # noqa: PLC0415
    import dns.exception  # noqa: PLC0415
    import dns.resolver  # noqa: PLC0415

    name = normalize_domain(domain)
    _require_token(token)
    qname = f"{CHALLENGE_LABEL}.{name}"

    def result(verified: bool, detail: str) -> DomainProofResult:
        return DomainProofResult("dns", name, verified, detail)

    try:
        resolver = dns.asyncresolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            resolver.nameservers = list(nameservers)
            resolver.port = port
        resolver.timeout = resolver.lifetime = timeout
        answer = await resolver.resolve(qname + ".", "TXT", search=False, lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        return result(False, f"no TXT record at {qname} (NXDOMAIN: the name does not exist)")
    except dns.resolver.NoAnswer:
        return result(False, f"no TXT record at {qname}")
    except dns.exception.Timeout:
        return result(False, f"DNS lookup of {qname} timed out after {timeout} s")
    except dns.resolver.NoNameservers as exc:
        return result(False, f"no name server answered for {qname}: {exc}")
    except (dns.exception.DNSException, OSError) as exc:
        return result(False, f"DNS lookup of {qname} failed: {_describe(exc)}")
    wanted = expected_txt(token).encode("ascii")
    texts = [b"".join(rdata.strings).strip() for rdata in answer]
    if wanted in texts:
        return result(True, f"TXT record at {qname} holds the expected value")
    return result(
        False, f"{len(texts)} TXT record(s) found at {qname} but none holds the expected value"
    )


class _Refused(Exception):
    """The fetch got an answer that cannot prove control; the message says why."""


async def verify_http(
    domain: str,
    token: str,
    *,
    scheme: Literal["https", "http"] = "https",
    timeout: float = DEFAULT_HTTP_TIMEOUT,  # noqa: ASYNC109 (reported in the detail)
    max_bytes: int = MAX_BODY_BYTES,
    base_url_for: Callable[[str], str] | None = None,
    allow_private_addresses: bool = False,
) -> DomainProofResult:
    """Whether ``<scheme>://<domain>/.well-known/clearance-verification.txt`` holds the
    token (surrounding whitespace ignored).

    Redirects are followed only on the same host (and never from https to http); the
    body is read up to ``max_bytes``; ``timeout`` bounds the whole exchange. The host
    must resolve only to public addresses (``allow_private_addresses`` is for tests),
    and the connection goes to the address that was checked. ``base_url_for`` maps the
    domain to a base URL (``scheme://host[:port]``) in place of ``scheme://domain``.
    """
    name = normalize_domain(domain)
    _require_token(token)
    if scheme not in {"https", "http"}:
        raise ValueError(f"scheme must be https or http, not {scheme!r}")
    base = base_url_for(name) if base_url_for else f"{scheme}://{name}"
    url = httpx.URL(base.rstrip("/") + WELL_KNOWN_PATH)

    def result(verified: bool, detail: str) -> DomainProofResult:
        return DomainProofResult("http", name, verified, detail)

    try:
        async with asyncio.timeout(timeout):
            body = await _fetch(url, timeout, max_bytes, allow_private_addresses)
    except (TimeoutError, httpx.TimeoutException):
        return result(False, f"fetching {url} timed out after {timeout} s")
    except _Refused as exc:
        return result(False, str(exc))
    except (httpx.HTTPError, httpx.InvalidURL, OSError, UnicodeError) as exc:
        return result(False, f"could not fetch {url}: {_describe(exc)}")
    if body.removeprefix(b"\xef\xbb\xbf").strip() != token.encode("ascii"):
        return result(False, f"the content of {url} does not match the token")
    return result(True, f"{url} holds the token")


async def _fetch(
    url: httpx.URL,
    timeout: float,  # noqa: ASYNC109 (each request's own limit, inside the caller's)
    max_bytes: int,
    allow_private: bool,
) -> bytes:
    headers = {"Accept": "text/plain", "Accept-Encoding": "identity"}
    async with httpx.AsyncClient(
        follow_redirects=False, timeout=timeout, trust_env=False, headers=headers
    ) as client:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            address = await _checked_address(current, allow_private)
            request = client.build_request(
                "GET",
                current.copy_with(host=address),
                headers={"Host": current.netloc.decode("ascii")},
                extensions={"sni_hostname": current.host} if current.scheme == "https" else {},
            )
            response = await client.send(request, stream=True)
            try:
                if not response.is_redirect:
                    return await _read_body(response, current, max_bytes)
                current = _redirect_target(current, response)
            finally:
                await response.aclose()
    raise _Refused(f"{url} redirects more than {MAX_REDIRECTS} times")


def _redirect_target(current: httpx.URL, response: httpx.Response) -> httpx.URL:
    target = current.join(response.headers["location"])
    if target.host != current.host:
        raise _Refused(
            f"{current} redirects to another host ({target.host or 'none'}); "
            "redirects are followed only on the same host"
        )
    if target.scheme != current.scheme and (current.scheme, target.scheme) != ("http", "https"):
        raise _Refused(f"{current} redirects from {current.scheme} to {target.scheme}")
    return target


async def _read_body(response: httpx.Response, url: httpx.URL, max_bytes: int) -> bytes:
    if response.status_code != 200:
        raise _Refused(f"HTTP {response.status_code} from {url}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise _Refused(f"{url} is sent {encoding}-encoded; serve it uncompressed")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _Refused(f"{url} is {declared} bytes long; the limit is {max_bytes}")
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > max_bytes:
            raise _Refused(f"{url} is longer than the limit of {max_bytes} bytes")
    return bytes(body)


async def _checked_address(url: httpx.URL, allow_private: bool) -> str:
    """The address to connect to for ``url``, after checking every address the host
    resolves to is public (so the check cannot be pointed at internal services)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            url.host, port, type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise _Refused(f"cannot resolve {url.host}: {exc.strerror}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise _Refused(f"cannot resolve {url.host}: no addresses")
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise _Refused(f"{url.host} resolves to {address}, which is not a public address")
    return str(addresses[0])


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
