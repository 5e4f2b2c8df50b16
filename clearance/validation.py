"""Checks shared by every domain's input: names, countries, URLs.

Each raises :class:`~clearance.errors.InvalidInput` naming the field, so the API can
say exactly what was wrong.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

import pycountry

from clearance.errors import InvalidInput

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def display_name(value: str, field: str, max_length: int = 256) -> str:
    """A human name in any script: trimmed, NFC, no control or format characters."""
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field)
    for char in value:
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            raise InvalidInput(f"{field} contains a control or invisible character", field)
    return value


def slug(value: str, field: str, max_length: int = 128) -> str:
    """A machine name (model names): ASCII letters, digits and ``._:/@+-``."""
    if not value or len(value) > max_length or not _SLUG.match(value):
        raise InvalidInput(
            f"{field} must be 1-{max_length} characters of letters, digits and ._:/@+- "
            "starting with a letter or digit",
            field,
        )
    return value


def country_code(value: str, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code, upper-cased."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidInput(f"{field} must be an ISO 3166-1 alpha-2 country code", field)
    return code


def http_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"{field} must be an http:// or https:// URL with a host", field)
    if parts.query or parts.fragment:
        raise InvalidInput(f"{field} must not have a query or fragment", field)
    return value.rstrip("/")


def env_var_name(value: str, field: str) -> str:
    if not _ENV_VAR.match(value) or len(value) > 128:
        raise InvalidInput(f"{field} must be an environment variable name (A-Z, 0-9, _)", field)
    return value


_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)


def email(value: str, field: str = "email") -> str:
    """An e-mail address, lower-cased (the domain part must be a DNS name)."""
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value) or any(ord(c) < 33 for c in value):
        raise InvalidInput(f"{field} must be an e-mail address", field)
    return value


def free_text(value: str, field: str, max_length: int = 2000) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field)
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
        raise InvalidInput(f"{field} contains control characters", field)
    return value
