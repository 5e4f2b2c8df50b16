"""Transparency-log building blocks, implemented from the public specs and independent
of the rest of Clearance: RFC 9162 Merkle trees, C2SP signed notes, checkpoints and
tlog-tiles."""
