"""Tests for clearance.audit.tlog.note: C2SP signed-note vectors, keys, tampering, cosignatures."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearance.audit.tlog.checkpoint import Checkpoint
from clearance.audit.tlog.keys import (
    CosignatureVerifier,
    Cosigner,
    Signer,
    Verifier,
    check_key_name,
    cosigned_message,
    key_id,
    verifier_from_vkey,
)
from clearance.audit.tlog.note import (
    MAX_SIGNATURES,
    SIG_TYPE_COSIGNATURE_V1,
    SIG_TYPE_ED25519,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    NoteError,
    NoteSignature,
    UnverifiedNoteError,
    decode_base64,
    open_note,
    parse_note,
    sign_note,
)
from tests.support.data import SIGNED_NOTE_VECTORS

VECTORS = SIGNED_NOTE_VECTORS
CASES: list[dict[str, Any]] = json.loads((VECTORS / "vectors.json").read_text())

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
CHECKPOINT_BODY = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SEED_A, SEED_B, SEED_C = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32


# --- known-answer vectors ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["desc"][:60] for case in CASES])
def test_signed_note_vectors(case: dict[str, Any]) -> None:
    data = (VECTORS / case["file"]).read_bytes()

    def run() -> tuple[str, list[str]]:
        if not case["verify"]:
            text, _ = parse_note(data)
            return text, []
        opened = open_note(data, [verifier_from_vkey(vkey) for vkey in case["vkeys"]])
        return opened.text, [signature.identity for signature in opened.verified]

    if case["wantErr"]:
        with pytest.raises(NoteError):
            run()
        return
    text, signers = run()
    if "wantSigners" in case:
        assert signers == case["wantSigners"]
    if "wantText" in case:
        assert text == case["wantText"]
    expected = case.get("checkpoint")
    if expected is not None:
        checkpoint = Checkpoint.parse(text)
        assert checkpoint.origin == expected["origin"]
        assert checkpoint.size == expected["size"]
        assert checkpoint.root == base64.b64decode(expected["root"])


def test_peter_neumann_signature_is_deterministic() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    expected = (VECTORS / "go-peterneumann.note").read_text(encoding="utf-8")
    assert sign_note(PETER_TEXT, [signer]) == expected
    assert signer.to_skey() == PETER_SKEY
    assert signer.verifier().to_vkey() == PETER_VKEY
    assert signer.key_id == 0xC74F20A3
    assert key_id("PeterNeumann", SIG_TYPE_ED25519, signer.verifier().public_key) == 0xC74F20A3


def test_vkey_round_trip() -> None:
    verifier = Verifier.from_vkey(ENOCH_VKEY)
    assert (verifier.name, verifier.key_id) == ("EnochRoot", 0xAF0CFE78)
    assert verifier.to_vkey() == ENOCH_VKEY
    assert Verifier.from_vkey(ENOCH_VKEY.replace("af0cfe78", "AF0CFE78")) == verifier


def test_signer_repr_hides_seed() -> None:
    signer = Signer("example.com/log", SEED_A)
    assert repr(signer) == f"Signer('example.com/log', key_id={signer.key_id:08x})"
    assert SEED_A.hex() not in repr(signer)


# --- signing and opening ----------------------------------------------------------------


def test_round_trip_with_several_keys() -> None:
    signers = [Signer(f"example.com/key{i}", seed) for i, seed in enumerate((SEED_A, SEED_B))]
    generated = Signer.generate("generated.example")
    note = sign_note("hello\n\nworld\n", [*signers, generated])
    opened = open_note(note, [s.verifier() for s in (generated, *signers)])
    assert opened.text == "hello\n\nworld\n"
    assert [s.identity for s in opened.verified] == [
        f"{s.name}+{s.key_id:08x}" for s in (*signers, generated)
    ]
    assert opened.unverified == ()
    assert all(s.timestamp is None for s in opened.verified)
    reloaded = Signer.from_skey(generated.to_skey())
    assert reloaded.sign("x\n") == generated.sign("x\n")


def test_unknown_key_is_ignored() -> None:
    known, unknown = Signer("known.example", SEED_A), Signer("unknown.example", SEED_B)
    note = sign_note("body\n", [unknown, known])
    opened = open_note(note, [known.verifier()])
    assert [s.name for s in opened.verified] == ["known.example"]
    assert [s.name for s in opened.unverified] == ["unknown.example"]
    # Same name with another key, and same key under another name, are both unknown.
    impostors = [
        Signer("known.example", SEED_C).verifier(),
        Verifier("other", known.verifier().public_key),
    ]
    with pytest.raises(UnverifiedNoteError):
        open_note(note, impostors)


def test_repeated_signatures() -> None:
    signer, other = Signer("a.example", SEED_A), Signer("b.example", SEED_B)
    line = signer.sign("t\n")
    with pytest.raises(MalformedNoteError, match="repeated"):
        open_note("t\n\n" + line + line, [signer.verifier()])
    unknown = other.sign("t\n")
    opened = open_note("t\n\n" + unknown + line + unknown, [signer.verifier()])
    assert len(opened.unverified) == 1
    with pytest.raises(ValueError, match="share name and key ID"):
        open_note("t\n\n" + line, [signer.verifier(), signer.verifier()])


def test_tampered_note_is_rejected() -> None:
    signer = Signer("log.example", SEED_A)
    note = sign_note("amount: 10\n", [signer])
    with pytest.raises(InvalidSignatureError):
        open_note(note.replace("10", "11"), [signer.verifier()])
    with pytest.raises(InvalidSignatureError):
        open_note("prefix\n" + note, [signer.verifier()])


def test_truncated_and_garbage_signatures() -> None:
    signer = Signer("log.example", SEED_A)
    verifiers = [signer.verifier()]
    text, (signature,) = parse_note(sign_note("t\n", [signer]))
    short = NoteSignature(signature.name, signature.key_id, signature.signature[:-1]).to_line()
    with pytest.raises(InvalidSignatureError):
        open_note(text + "\n" + short, verifiers)
    long = NoteSignature(signature.name, signature.key_id, signature.signature + b"\0").to_line()
    with pytest.raises(InvalidSignatureError):
        open_note(text + "\n" + long, verifiers)
    encoded = base64.b64encode(signature.key_id.to_bytes(4, "big") + signature.signature).decode()
    for bad in (encoded[:-1], "!!!!" + encoded, encoded + "=", "AAAA", ""):
        with pytest.raises(MalformedNoteError):
            open_note(f"t\n\n\u2014 log.example {bad}\n", verifiers)


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("text\n\n\u2014 a AAAAAAA=", id="no-final-newline"),
        pytest.param("text\n\u2014 a AAAAAAA=\n", id="no-blank-line"),
        pytest.param("text\n\n", id="no-signatures"),
        pytest.param("text\n\n- a AAAAAAA=\n", id="hyphen-not-em-dash"),
        pytest.param("text\n\n\u2014a AAAAAAA=\n", id="no-space-after-dash"),
        pytest.param("text\n\n\u2014 a  AAAAAAA=\n", id="double-space"),
        pytest.param("text\n\n\u2014 a+b AAAAAAA=\n", id="plus-in-name"),
        pytest.param("text\n\n\u2014  AAAAAAA=\n", id="empty-name"),
        pytest.param("text\n\n\u2014 a AAAAAAA=\n\n", id="trailing-blank-line"),
        pytest.param("te\txt\n\n\u2014 a AAAAAAA=\n", id="tab-in-text"),
        pytest.param("text\r\n\n\u2014 a AAAAAAA=\n", id="carriage-return"),
        pytest.param("text\n\n\u2014 a AAAA\n", id="signature-too-short"),
        pytest.param(b"t\xffxt\n\n\xe2\x80\x94 a AAAAAAA=\n", id="invalid-utf8"),
        pytest.param("t\ud800\n\n\u2014 a AAAAAAA=\n", id="lone-surrogate"),
    ],
)
def test_malformed_notes(note: str | bytes) -> None:
    with pytest.raises(MalformedNoteError):
        parse_note(note)


def test_signature_limit() -> None:
    signer = Signer("log.example", SEED_A)
    noise = NoteSignature("noise.example", 1, bytes(64)).to_line()
    at_limit = sign_note("t\n", [signer]) + noise * (MAX_SIGNATURES - 1)
    assert len(open_note(at_limit, [signer.verifier()]).verified) == 1
    with pytest.raises(MalformedNoteError, match="more than"):
        open_note(at_limit + noise, [signer.verifier()])


def test_sign_note_rejects_bad_text() -> None:
    signer = Signer("log.example", SEED_A)
    for text in ("no newline", "", "tab\there\n"):
        with pytest.raises(MalformedNoteError):
            sign_note(text, [signer])
    with pytest.raises(ValueError, match="at least one signer"):
        sign_note("t\n", [])


# --- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\u2028b", "a\tb", "\ud800"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(KeyFormatError):
        check_key_name(name)
    with pytest.raises(KeyFormatError):
        Signer(name, SEED_A)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy1w==",
        "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_invalid_vkeys(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        Verifier.from_vkey(vkey)
    with pytest.raises(KeyFormatError):
        verifier_from_vkey(vkey)


def test_invalid_signer_keys() -> None:
    with pytest.raises(KeyFormatError, match="PRIVATE"):
        Signer.from_skey(PETER_SKEY.removeprefix("PRIVATE+"))
    with pytest.raises(KeyFormatError, match="does not match"):
        Signer.from_skey(PETER_SKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(KeyFormatError):
        Signer("log.example", b"short")


def test_decode_base64_is_strict() -> None:
    assert decode_base64("AAE=") == b"\x00\x01"
    for bad in ("AAE", "AAF=", "AA E=", "AAE=\n", "AA-_"):
        with pytest.raises(ValueError, match="base64"):
            decode_base64(bad)


# --- cosignatures -----------------------------------------------------------------------


def test_cosignature_round_trip() -> None:
    log = Signer("example.com/behind-the-sofa", SEED_A)
    witness = Cosigner("witness.example.com/w1", SEED_B)
    note = sign_note(CHECKPOINT_BODY, [log])
    note += witness.sign(CHECKPOINT_BODY, timestamp=1679315147)
    opened = open_note(note, [log.verifier(), witness.verifier()])
    assert [(s.name, s.timestamp) for s in opened.verified] == [
        ("example.com/behind-the-sofa", None),
        ("witness.example.com/w1", 1679315147),
    ]
    only_log = open_note(note, [log.verifier()])
    assert [s.name for s in only_log.unverified] == ["witness.example.com/w1"]


def test_cosignature_wire_format() -> None:
    witness = Cosigner("witness.example.com/w1", SEED_B)
    public_key = witness.verifier().public_key
    assert witness.key_id == key_id("witness.example.com/w1", SIG_TYPE_COSIGNATURE_V1, public_key)
    assert witness.key_id != key_id("witness.example.com/w1", SIG_TYPE_ED25519, public_key)
    _, (signature,) = parse_note("b\n\n" + witness.sign(CHECKPOINT_BODY, timestamp=258))
    assert len(signature.signature) == 8 + 64
    assert signature.signature[:8] == (258).to_bytes(8, "big")
    message = cosigned_message(CHECKPOINT_BODY.encode(), 258)
    assert message == b"cosignature/v1\ntime 258\n" + CHECKPOINT_BODY.encode()
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature.signature[8:], message)


def test_cosignature_vkey() -> None:
    witness = Cosigner("witness.example.com/w1", SEED_B)
    vkey = witness.verifier().to_vkey()
    material = base64.b64decode(vkey.split("+", 2)[2])
    assert material == bytes([SIG_TYPE_COSIGNATURE_V1]) + witness.verifier().public_key
    assert vkey.split("+")[1] == f"{witness.key_id:08x}"
    assert CosignatureVerifier.from_vkey(vkey) == witness.verifier()
    assert verifier_from_vkey(vkey) == witness.verifier()
    with pytest.raises(KeyFormatError):
        Verifier.from_vkey(vkey)
    with pytest.raises(KeyFormatError):
        CosignatureVerifier.from_vkey(PETER_VKEY)
    name, hex_id, _ = vkey.split("+", 2)
    ecdsa_type = base64.b64encode(b"\x02" + witness.verifier().public_key).decode()
    with pytest.raises(KeyFormatError, match="unsupported"):
        verifier_from_vkey(f"{name}+{hex_id}+{ecdsa_type}")


def test_spec_example_cosignature_parses() -> None:
    # The tlog-cosignature.md example line: key ID, then timestamp 1679315147.
    line = (
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZC"
        "B9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    _, (signature,) = parse_note(CHECKPOINT_BODY + "\n" + line)
    verifier = Cosigner("witness.example.com/w1", SEED_B).verifier()
    assert verifier.timestamp(signature.signature) == 1679315147


def test_cosignature_tampering() -> None:
    witness = Cosigner("witness.example.com/w1", SEED_B)
    verifiers = [witness.verifier()]
    line = witness.sign(CHECKPOINT_BODY, timestamp=1000)
    with pytest.raises(InvalidSignatureError):
        open_note(CHECKPOINT_BODY.replace("20852163", "20852164") + "\n" + line, verifiers)
    _, (signature,) = parse_note(CHECKPOINT_BODY + "\n" + line)
    for raw in (
        (1001).to_bytes(8, "big") + signature.signature[8:],
        (2**63).to_bytes(8, "big") + signature.signature[8:],
        signature.signature[8:],
        signature.signature + b"\0",
    ):
        forged = NoteSignature(signature.name, signature.key_id, raw).to_line()
        with pytest.raises(InvalidSignatureError):
            open_note(CHECKPOINT_BODY + "\n" + forged, verifiers)
    # A plain Ed25519 signature by the same key has another key ID: it is not a cosignature.
    plain = Signer("witness.example.com/w1", SEED_B).sign(CHECKPOINT_BODY)
    with pytest.raises(UnverifiedNoteError):
        open_note(CHECKPOINT_BODY + "\n" + plain, verifiers)


def test_cosigner_timestamps() -> None:
    witness = Cosigner("witness.example.com/w1", SEED_B)
    before = int(time.time())
    opened = open_note(CHECKPOINT_BODY + "\n" + witness.sign(CHECKPOINT_BODY), [witness.verifier()])
    stamp = opened.verified[0].timestamp
    assert stamp is not None
    assert before <= stamp <= int(time.time())
    for bad in (-1, 2**63):
        with pytest.raises(ValueError, match="out of range"):
            witness.sign(CHECKPOINT_BODY, timestamp=bad)
    assert "Cosigner('witness.example.com/w1'" in repr(Cosigner.generate("witness.example.com/w1"))
