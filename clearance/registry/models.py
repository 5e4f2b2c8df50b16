"""Registered models and country tables: tables and values.

A model is what clients name in requests, the upstream behind it, and everything the
program says about it: its risk profile per domain, release mode, export-control
classification and the country table it is judged by, how long its content is kept,
which safeguards it requires, and the lowest organization tier that may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata
from clearance.limits.models import Limits
from clearance.registry.levels import RiskLevel

TOPIC = "models"
COUNTRY_TABLES_TOPIC = "country_tables"
RELEASE_MODES = ("public", "trusted-access", "internal-only")
UPSTREAM_APIS = ("openai", "anthropic")
RETENTION_MODES = ("none", "digest", "encrypted")
SAFEGUARDS = ("inline_screening", "output_screening")
UNCONTROLLED = "EAR99"

models_table = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("upstream_url", sa.String(2048), nullable=False),
    sa.Column("upstream_model", sa.String(256), nullable=False),
    sa.Column("upstream_key_env", sa.String(128), nullable=True),
    sa.Column("upstream_key_file", sa.String(1024), nullable=True),
    sa.Column("upstream_api", sa.String(16), nullable=False, server_default="openai"),
    sa.Column("aliases", JSONValue, nullable=False, server_default="[]"),
    sa.Column("risk", JSONValue, nullable=False, server_default="{}"),
    sa.Column("release_mode", sa.String(16), nullable=False, server_default="trusted-access"),
    sa.Column("export_control", sa.String(32), nullable=True),
    sa.Column("jurisdiction", sa.String(64), nullable=True),
    sa.Column("retention", JSONValue, nullable=False, server_default='{"mode": "none"}'),
    sa.Column("safeguards", JSONValue, nullable=False, server_default="[]"),
    sa.Column("min_org_tier", sa.Integer, nullable=False, server_default="1"),
    sa.Column("limits", JSONValue, nullable=False, server_default="{}"),
    sa.Column("content_types", JSONValue, nullable=False, server_default="[]"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=True),
)

country_tables_table = sa.Table(
    "country_tables",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("default_tier", sa.Integer, nullable=False),
    sa.Column("tiers", JSONValue, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(128), nullable=False),
)

registry_settings_table = sa.Table(
    "registry_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Retention:
    mode: str = "none"
    """``none`` (keep no content), ``digest`` (a keyed digest) or ``encrypted``."""
    days: int = 0
    """How long encrypted content is kept (``encrypted`` only)."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything declared about a model (what `clearance apply` manages)."""

    upstream_url: str
    upstream_model: str | None = None
    upstream_key_env: str | None = None
    upstream_key_file: str | None = None
    upstream_api: str = "openai"
    """``openai`` (an OpenAI-compatible server) or ``anthropic`` (the Messages API)."""
    aliases: tuple[str, ...] = ()
    risk: dict[str, str] = field(default_factory=dict)
    """Risk domain -> label (``OpenAI:High``, ``ASL-3``, ``2``…)."""
    release_mode: str = "trusted-access"
    export_control: str | None = None
    jurisdiction: str | None = None
    """Country table name; ``None``: the program's default table."""
    retention: Retention = Retention()
    safeguards: tuple[str, ...] = ()
    min_org_tier: int = 1
    limits: Limits = field(default_factory=Limits)
    """Limits on the model across everyone who uses it."""
    content_types: tuple[str, ...] = ()
    """Content part types passed through beyond those the API defines (screened like
    any other text); a request with any other unknown type gets 400."""


@dataclass(frozen=True, slots=True)
class Model:
    """A model clients name in requests, where its calls go, and its classification."""

    id: str
    name: str
    upstream_url: str
    """The upstream's OpenAI base URL, as the ``openai`` SDK's ``base_url``."""
    upstream_model: str
    upstream_key_env: str | None
    """Environment variable holding the upstream API key (the key is never stored)."""
    upstream_key_file: str | None
    """File holding the upstream API key (read when models are loaded)."""
    upstream_api: str
    aliases: tuple[str, ...]
    risk: dict[str, RiskLevel]
    release_mode: str
    export_control: str | None
    jurisdiction: str | None
    retention: Retention
    safeguards: tuple[str, ...]
    min_org_tier: int
    limits: Limits
    created_at: datetime
    created_by: str
    content_types: frozenset[str] = frozenset()

    @property
    def controlled(self) -> bool:
        """Export-controlled: classified, and not as EAR99."""
        return self.export_control is not None and self.export_control.upper() != UNCONTROLLED

    def level(self, domain: str) -> int:
        found = self.risk.get(domain)
        return found.level if found is not None else 0

    def spec(self) -> ModelSpec:
        return ModelSpec(
            upstream_url=self.upstream_url,
            upstream_model=self.upstream_model,
            upstream_key_env=self.upstream_key_env,
            upstream_key_file=self.upstream_key_file,
            upstream_api=self.upstream_api,
            aliases=self.aliases,
            risk={domain: level.label for domain, level in self.risk.items()},
            release_mode=self.release_mode,
            export_control=self.export_control,
            jurisdiction=self.jurisdiction,
            retention=self.retention,
            safeguards=self.safeguards,
            min_org_tier=self.min_org_tier,
            limits=self.limits,
            content_types=tuple(sorted(self.content_types)),
        )

    @classmethod
    def from_row(cls, row: Any) -> Model:
        m = row._mapping
        retention = m["retention"] or {}
        return cls(
            id=m["id"],
            name=m["name"],
            upstream_url=m["upstream_url"],
            upstream_model=m["upstream_model"],
            upstream_key_env=m["upstream_key_env"],
            upstream_key_file=m["upstream_key_file"],
            upstream_api=m["upstream_api"],
            aliases=tuple(m["aliases"] or ()),
            risk={
                domain: RiskLevel(int(value["level"]), str(value["label"]))
                for domain, value in (m["risk"] or {}).items()
            },
            release_mode=m["release_mode"],
            export_control=m["export_control"],
            jurisdiction=m["jurisdiction"],
            retention=Retention(retention.get("mode", "none"), int(retention.get("days", 0))),
            safeguards=tuple(m["safeguards"] or ()),
            min_org_tier=int(m["min_org_tier"]),
            limits=Limits.from_document(m["limits"] or {}),
            created_at=m["created_at"],
            created_by=m["created_by"],
            content_types=frozenset(m["content_types"] or ()),
        )


@dataclass(frozen=True)
class CountryTable:
    """Jurisdiction tiers by ISO 3166-1 alpha-2 code; countries not listed get
    ``default_tier``. Tier 1 is the most trusted, tier 3 the most restricted."""

    name: str
    source: str
    default_tier: int
    tiers: dict[str, int]

    def tier(self, country: str | None) -> int:
        if not country:
            return self.default_tier
        return self.tiers.get(country.upper(), self.default_tier)

    def by_tier(self) -> dict[int, list[str]]:
        grouped: dict[int, list[str]] = {}
        for country, tier in sorted(self.tiers.items()):
            grouped.setdefault(tier, []).append(country)
        return dict(sorted(grouped.items()))
