"""API key and operator token format: prefix, checksum, lookup, keyed hash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.identity import credentials
from clearance.identity.credentials import MalformedCredential


def test_generated_credentials_parse_back() -> None:
    for prefix in (credentials.API_KEY_PREFIX, credentials.OPERATOR_TOKEN_PREFIX):
        issued = credentials.generate(prefix)
        parsed = credentials.parse(issued.value, prefix)
        assert parsed == issued
        assert issued.value.startswith(f"{prefix}_")
        assert len(issued.lookup) == len(prefix) + 1 + credentials.LOOKUP_LENGTH


def test_other_kinds_of_string_are_not_ours() -> None:
    assert credentials.parse("sk-proj-abc", "clr") is None
    assert credentials.parse("clro_" + "a" * 38, "clr") is None  # a token is not a key


@pytest.mark.parametrize("value", ["clr_", "clr_short", "clr_" + "A" * 39, "clr_" + "!" * 38])
def test_malformed_values_with_our_prefix_raise(value: str) -> None:
    with pytest.raises(MalformedCredential):
        credentials.parse(value, "clr")


@given(st.integers(min_value=4, max_value=41), st.sampled_from("0123456789abcXYZ"))
def test_any_single_character_change_fails_the_check(position: int, replacement: str) -> None:
    value = credentials.generate("clr").value
    changed = value[:position] + replacement + value[position + 1 :]
    if changed == value:
        return
    with pytest.raises(MalformedCredential):
        credentials.parse(changed, "clr")


def test_keyed_hash_depends_on_the_server_secret() -> None:
    value = credentials.generate("clr").value
    one, two = b"1" * 32, b"2" * 32
    assert credentials.keyed_hash(one, value) != credentials.keyed_hash(two, value)
    assert credentials.matches(one, value, credentials.keyed_hash(one, value))
    assert not credentials.matches(two, value, credentials.keyed_hash(one, value))
