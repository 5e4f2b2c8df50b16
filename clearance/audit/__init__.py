"""Audit: every security-relevant change, as typed entries in an append-only log."""
