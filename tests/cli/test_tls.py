"""``clearance serve --ssl-certfile/--ssl-keyfile`` serves HTTPS itself, for an
installation with no reverse proxy in front to terminate TLS."""

from __future__ import annotations

import ipaddress
import json
import ssl
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.installation import install
from tests.support.processes import PYTHON, clearance, free_port, running


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts this certificate alone (and checks the host name)."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(where: Path, name: str = "127.0.0.1") -> Certificate:
    """A self-signed certificate for the IP address ``name``, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    where.mkdir(parents=True, exist_ok=True)
    paths = Certificate(cert=where / "cert.pem", key=where / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths.key.chmod(0o600)
    return paths


def test_a_tls_client_calls_healthz_over_https(tmp_path: Path) -> None:
    installed = install(tmp_path)
    tls = self_signed(tmp_path / "tls")
    port = free_port()
    url = f"https://127.0.0.1:{port}/healthz"
    log = tmp_path / "serve.log"
    serve = [
        *(PYTHON, "-m", "clearance", "serve", "--data-dir", str(installed.data_dir)),
        *("--port", str(port), "--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)),
    ]
    with running(serve, url, log, verify=tls.client_context()):
        response = httpx.get(url, verify=tls.client_context())
        assert response.status_code == 200
        assert response.url.scheme == "https"
        # Plain HTTP on the same port gets no answer, and the certificate is checked:
        # a client trusting only the system's authorities refuses it.
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url)
    # The start line (uvicorn's, in JSON as every line is with log_json).
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert f"Serving on https://127.0.0.1:{port}" in events


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    return error


def test_a_missing_certificate_is_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    result = clearance(
        *("serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())),
        *("--ssl-certfile", str(missing)),
        check=False,
    )
    assert _one_error(result) == f"error: cannot read {missing}: no such file or directory"


def test_a_key_that_is_not_the_certificates_is_one_error_line(tmp_path: Path) -> None:
    tls, other = self_signed(tmp_path / "tls"), self_signed(tmp_path / "other")
    result = clearance(
        *("serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())),
        *("--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(other.key)),
        check=False,
    )
    error = _one_error(result)
    assert error.startswith(f"error: cannot serve TLS with {tls.cert} and {other.key}: ")
    assert "KEY_VALUES_MISMATCH" in error
