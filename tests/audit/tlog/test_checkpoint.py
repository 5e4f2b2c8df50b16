"""Tests for clearance.audit.tlog.checkpoint: C2SP tlog-checkpoint note bodies."""

from __future__ import annotations

import base64

import pytest

from clearance.audit.tlog.checkpoint import Checkpoint, CheckpointError
from clearance.audit.tlog.keys import Signer
from clearance.audit.tlog.merkle import TreeBuilder, leaf_hash
from clearance.audit.tlog.note import open_note, parse_note, sign_note
from tests.support.data import SIGNED_NOTE_VECTORS

VECTORS = SIGNED_NOTE_VECTORS
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


@pytest.mark.parametrize(
    ("file", "origin", "size", "root"),
    [
        (
            "c2sp-checkpoint-example.note",
            "example.com/behind-the-sofa",
            20852163,
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        ),
        (
            "sumdb-checkpoint.note",
            "go.sum database tree",
            6476701,
            "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=",
        ),
    ],
)
def test_vector_checkpoints(file: str, origin: str, size: int, root: str) -> None:
    text, _ = parse_note((VECTORS / file).read_bytes())
    checkpoint = Checkpoint.parse(text)
    assert checkpoint == Checkpoint(origin, size, base64.b64decode(root))
    assert checkpoint.to_text() == text


def test_to_text_layout() -> None:
    assert Checkpoint("example.com/behind-the-sofa", 20852163, ROOT).to_text() == SPEC_BODY
    empty = Checkpoint("log", 0, bytes(32))
    assert empty.to_text() == f"log\n0\n{'A' * 43}=\n"
    extended = Checkpoint("log", 7, ROOT, ("ext one", "ext-two"))
    assert extended.to_text().endswith("\next one\next-two\n")
    assert Checkpoint.parse(extended.to_text()) == extended


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(SPEC_BODY[:-1], id="no-final-newline"),
        pytest.param("origin\n1\n", id="two-lines"),
        pytest.param("\n1\n" + SPEC_BODY.split("\n")[2] + "\n", id="empty-origin"),
        pytest.param(SPEC_BODY.replace("20852163", "020852163"), id="leading-zero"),
        pytest.param(SPEC_BODY.replace("20852163", "00"), id="double-zero"),
        pytest.param(SPEC_BODY.replace("20852163", "+20852163"), id="plus-sign"),
        pytest.param(SPEC_BODY.replace("20852163", " 20852163"), id="space"),
        pytest.param(SPEC_BODY.replace("20852163", "20_852_163"), id="underscores"),
        pytest.param(SPEC_BODY.replace("20852163", "-1"), id="negative"),
        pytest.param(SPEC_BODY.replace("20852163", "\u0661"), id="arabic-digit"),
        pytest.param(SPEC_BODY.replace("20852163", ""), id="empty-size"),
        pytest.param(SPEC_BODY.replace("20852163", str(2**64)), id="too-large"),
        pytest.param(SPEC_BODY.replace("CsUYap", "CsUY"), id="short-root"),
        pytest.param(SPEC_BODY.replace("CsUYap", "AAAACsUYap"), id="long-root"),
        pytest.param(SPEC_BODY.replace("q2I=", "q2I"), id="unpadded-root"),
        pytest.param(SPEC_BODY.replace("q2I=", "q2J="), id="non-canonical-root"),
        pytest.param(SPEC_BODY.replace("/Xajj", "_Xajj"), id="urlsafe-root"),
        pytest.param(SPEC_BODY + "\n", id="empty-extension-at-end"),
        pytest.param(SPEC_BODY + "\nextension\n", id="empty-extension-line"),
        pytest.param(SPEC_BODY.replace("sofa", "so\tfa"), id="control-in-origin"),
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(text)


def test_constructor_validation() -> None:
    with pytest.raises(CheckpointError, match="origin is empty"):
        Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointError, match="newline"):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(CheckpointError, match="64-bit"):
        Checkpoint("log", -1, ROOT)
    with pytest.raises(CheckpointError, match="32 bytes"):
        Checkpoint("log", 1, ROOT[:31])
    with pytest.raises(CheckpointError, match="extension line 1 is empty"):
        Checkpoint("log", 1, ROOT, ("x", ""))


def test_sign_and_open_checkpoint() -> None:
    builder = TreeBuilder()
    builder.extend(leaf_hash(bytes([i])) for i in range(11))
    checkpoint = Checkpoint("clearance.example/audit", builder.size, builder.root())
    signer = Signer("clearance.example/audit", bytes(range(32)))
    opened = open_note(sign_note(checkpoint.to_text(), [signer]), [signer.verifier()])
    assert Checkpoint.parse(opened.text) == checkpoint
