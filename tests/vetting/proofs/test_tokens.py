"""Challenge tokens and their keyed digests."""

from __future__ import annotations

import pytest

from clearance.vetting.proofs.tokens import (
    expected_txt,
    is_well_formed,
    new_token,
    token_digest,
    token_matches,
)

KEY = b"k" * 32


def test_tokens_are_url_safe_unique_and_long_enough() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert is_well_formed(token)
        assert len(token) >= 43  # 256 bits of base64url


def test_the_digest_is_keyed_and_matches_only_its_token() -> None:
    token = new_token()
    digest = token_digest(KEY, token)
    assert len(digest) == 64
    assert token not in digest
    assert token_matches(KEY, token, digest)
    assert not token_matches(KEY, new_token(), digest)
    assert not token_matches(b"j" * 32, token, digest)
    assert not token_matches(KEY, token, "")
    assert not token_matches(KEY, token, "é" * 64)  # garbage from storage is no match


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        token_digest(b"short", new_token())


@pytest.mark.parametrize("token", ["", "short", "a" * 21, "has space " + "a" * 30, "a" * 129])
def test_malformed_tokens(token: str) -> None:
    assert not is_well_formed(token)


def test_expected_txt() -> None:
    assert expected_txt("abc") == "clearance-verification=abc"
