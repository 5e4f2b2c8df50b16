"""C2SP tlog-checkpoint note bodies.

Implements the "Note text" section of c2sp.org/tlog-checkpoint: an origin line,
the tree size in decimal without leading zeroes, the base64 root hash, then
optional non-empty extension lines, each terminated by a newline. Signing and
verifying the surrounding note is ``clearance.audit.tlog.note``'s job.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from clearance.audit.tlog.merkle import HASH_SIZE, MAX_UINT64
from clearance.audit.tlog.note import decode_base64


class CheckpointError(ValueError):
    """A checkpoint body is malformed."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if not 0 <= self.size <= MAX_UINT64:
            raise CheckpointError(f"tree size {self.size} is not an unsigned 64-bit integer")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes, got {len(self.root)}")
        for position, line in enumerate(self.extensions):
            _check_line(f"extension line {position}", line)

    def to_text(self) -> str:
        """The note text: every line, including the last, ends in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a note text (as returned by ``open_note``) into a checkpoint."""
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(f"checkpoint needs at least 3 lines, got {len(lines)}")
        origin, size_line, root_line, *extensions = lines
        return cls(origin, _parse_size(size_line), _parse_root(root_line), tuple(extensions))


def _check_line(what: str, line: str) -> None:
    if not line:
        raise CheckpointError(f"{what} is empty")
    if any(ch < " " for ch in line):
        raise CheckpointError(f"{what} contains a newline or control character")


def _parse_size(line: str) -> int:
    # int() would accept "+1", " 1", "1_000" and non-ASCII digits; the spec allows none.
    if not line or not all("0" <= ch <= "9" for ch in line):
        raise CheckpointError(f"tree size {line!r} is not an ASCII decimal number")
    if len(line) > 1 and line[0] == "0":
        raise CheckpointError(f"tree size {line!r} has leading zeroes")
    size = int(line)
    if size > MAX_UINT64:
        raise CheckpointError(f"tree size {line} does not fit in 64 bits")
    return size


def _parse_root(line: str) -> bytes:
    try:
        root = decode_base64(line)
    except ValueError as exc:
        raise CheckpointError(f"root hash: {exc}") from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes, got {len(root)}")
    return root
