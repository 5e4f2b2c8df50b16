"""Typed settings: the only module that reads the environment.

Precedence, highest first: values passed in code (the CLI's options), ``CLEARANCE_*``
environment variables, then ``clearance.toml`` in the data directory. The data
directory itself comes from the code, ``CLEARANCE_DATA_DIR`` or the default
``./clearance-data``, because it is where the file lives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_NAME = "clearance.toml"
DEFAULT_DATA_DIR = Path("clearance-data")
ENV_PREFIX = "CLEARANCE_"


class Settings(BaseSettings):
    """Everything an installation can configure."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default: SQLite in the data directory.",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema (search_path) to keep the tables in."
    )
    audit_checkpoint_entries: int = Field(
        default=1000, gt=0, description="Sign a checkpoint after this many new entries…"
    )
    audit_checkpoint_seconds: float = Field(
        default=5.0, gt=0, description="…or this long after the last one, if the log grew."
    )
    audit_integrate_interval: float = Field(
        default=0.5, gt=0, description="Seconds between integrations of new audit entries."
    )
    audit_witnesses: list[str] = Field(
        default_factory=list,
        description="Verifier keys (tlog-cosignature) of witnesses whose cosignatures "
        "the log accepts and serves.",
    )
    password_time_cost: int = Field(default=3, ge=1, description="argon2id passes.")
    password_memory_kib: int = Field(default=65536, ge=8, description="argon2id memory.")
    password_parallelism: int = Field(default=4, ge=1)
    session_hours: float = Field(default=12.0, gt=0, description="Console/portal session life.")
    max_failed_logins: int = Field(
        default=5, ge=1, description="Failures in a row before lock-out."
    )
    lockout_minutes: float = Field(default=15.0, gt=0)
    token_days: int = Field(default=90, ge=1, description="Default operator API token life.")
    max_token_days: int = Field(default=365, ge=1)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDR blocks of reverse proxies whose X-Forwarded-For is believed.",
    )
    unknown_country_tier: int = Field(
        default=2,
        ge=1,
        le=3,
        description="Jurisdiction tier of a request whose country GeoIP cannot tell "
        "(private and loopback addresses, unlisted ranges).",
    )
    policy_dir: Path | None = Field(
        default=None,
        description="A directory of .cedar files that `serve` applies as the policy set "
        "at start (refusing to start if they are invalid).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    ssl_certfile: Path | None = Field(
        default=None,
        description="Serve HTTPS with this PEM certificate (its chain after it); default: "
        "plain HTTP, for TLS terminated by a reverse proxy in front.",
    )
    ssl_keyfile: Path | None = Field(
        default=None,
        description="The certificate's private key (PEM, unencrypted); default: in the "
        "certificate file.",
    )
    log_level: str = "info"
    log_json: bool = True
    access_log: bool = Field(
        default=True,
        description="Log one line per gateway request (ids, model, status, tokens, "
        "latency; never content or key material).",
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_control_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest request body outside /v1 (admin API, portal, public routes).",
    )
    max_upload_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="Largest body of a program or policy upload (/admin/v1/program, "
        "/admin/v1/policy…): a program file may be 2 MiB, and JSON-escaped policies grow.",
    )
    max_login_body_bytes: int = Field(
        default=16 * 1024,
        gt=0,
        description="Largest body of a route that answers before anyone has signed in "
        "(sign-in and enrolment, the e-mailed link, witness cosignatures).",
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request head (request line and every header together); "
        "larger gets 431 and the connection closed.",
    )
    max_headers: int = Field(
        default=100, ge=1, description="Most header fields a request may carry (else 431)."
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection may take to send a whole request head (else 408 "
        "and closed); a new connection that sends nothing is closed after this too.",
    )
    body_read_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request body may go without a byte arriving while the "
        "server waits for it (else 408 and closed).",
    )
    upstream_connect_timeout: float = Field(default=10.0, gt=0)
    upstream_read_timeout: float = Field(default=600.0, gt=0)
    usage_seal_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between sealings of new usage records into the audit log.",
    )
    state_refresh_interval: float = Field(
        default=0.2, gt=0, description="Seconds between checks for changed state."
    )
    screening_threshold: float = Field(
        default=0.70, gt=0, le=1, description="Name-match score at which screening raises a hit."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where applicants reach this server (the base of e-mailed links).",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for outgoing mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = Field(
        default="clearance-noreply@example.com", description="From address of outgoing mail."
    )
    smtp_starttls: bool = False
    email_link_hours: float = Field(
        default=72.0, gt=0, description="How long an e-mailed verification link works."
    )
    dns_nameservers: list[str] = Field(
        default_factory=list,
        description="Resolvers for domain proofs as host or host:port; default: the system's.",
    )
    domain_proof_scheme: str = Field(
        default="https", pattern="^https?$", description="Scheme of the /.well-known/ proof."
    )
    revet_days: int = Field(
        default=365, ge=1, description="Days an approval lasts before re-vetting is due."
    )
    revet_reminder_days: int = Field(
        default=30, ge=0, description="Days before re-vetting is due that a reminder goes."
    )
    monitor_enabled: bool = Field(
        default=True, description="Run the usage monitor (deep stage, detectors, rules)."
    )
    monitor_process: bool = Field(
        default=True,
        description="Run the monitor in a process of its own, fed the request texts "
        "through a pipe, so its work never holds up the gateway; false runs it in the "
        "serving process.",
    )
    monitor_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the monitor process's CPU priority is than the "
        "server's (Unix nice): the gateway comes first when they compete for a core.",
    )
    monitor_idle_priority: bool = Field(
        default=False,
        description="Once it holds the lease, run the monitor process in Linux's idle "
        "scheduling class (SCHED_IDLE): it uses only CPU time nothing else wants, so a "
        "request never waits behind it for a core — but while anything else keeps every "
        "core busy it stops altogether. Only for a machine dedicated to Clearance. "
        "Monitors standing by, which hand texts over, stay at `monitor_nice`.",
    )
    monitor_deep: bool = Field(
        default=True, description="Run the deep classifier stage over every usage event."
    )
    monitor_text_wait: float = Field(
        default=3.0,
        ge=0,
        le=60,
        description="Seconds the monitor process waits for a recent record's text to reach "
        "it (from this server's gateway, or handed over through the database by a server "
        "standing by) before it reads the record without it.",
    )
    monitor_interval: float = Field(
        default=0.2, gt=0, description="Seconds between the monitor's looks for new usage."
    )
    monitor_batch: int = Field(default=2048, ge=1, le=4096, description="Events per batch.")
    monitor_max_lag: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="Seconds the monitor may fall behind the newest usage before /readyz "
        "answers 503 and an operator alert is raised (0: no lag check).",
    )
    monitor_detectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Detector settings, e.g. {"volume": {"z": 5}, "jailbreak_probing": '
        '{"enabled": false}}.',
    )
    monitor_judge: dict[str, Any] = Field(
        default_factory=dict,
        description="An optional guard-model judge the deep stage asks for a second "
        'opinion, e.g. {"url": "http://127.0.0.1:8001/v1", "model": "llama-guard-3"}; '
        "see the README's Monitoring section for its other settings.",
    )
    monitor_judge_api_key: str | None = Field(
        default=None,
        description="The judge's API key, if its endpoint needs one (from the environment, "
        "CLEARANCE_MONITOR_JUDGE_API_KEY; never logged).",
        repr=False,
    )
    monitor_rules: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {
                "name": "prohibited-3-in-1h",
                "detector": "prohibited",
                "count": 3,
                "window_minutes": 60,
                "action": "suspend",
                "scope": "end_user",
            }
        ],
        description="Automatic enforcement rules (see the README).",
    )
    topic_days: int = Field(
        default=30,
        ge=1,
        le=366,
        description="Days the monitor keeps each request's verdict, embedding and terms "
        "(for topic summaries) before the purge deletes them.",
    )
    content_key_file: Path | None = Field(
        default=None,
        description="File holding the AES-256 key (64 hex) for encrypted content; "
        "by default a key derived from the server secret.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        levels = {"debug", "info", "warning", "error", "critical"}
        if value.lower() not in levels:
            raise ValueError(f"log_level must be one of {sorted(levels)}")
        return value.lower()

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def server_secret_file(self) -> Path:
        return self.secrets_dir / "server-secret"

    @property
    def log_signing_key_file(self) -> Path:
        return self.secrets_dir / "log-signing-key"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'clearance.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings for the installation in ``data_dir`` (see the module docstring)."""
    if data_dir is None:
        from_env = os.environ.get(f"{ENV_PREFIX}DATA_DIR")
        data_dir = Path(from_env) if from_env else DEFAULT_DATA_DIR
    toml_file = data_dir / CONFIG_FILE_NAME
    config = SettingsConfigDict(**Settings.model_config)
    config["toml_file"] = toml_file if toml_file.is_file() else None
    bound: type[Settings] = type("BoundSettings", (Settings,), {"model_config": config})
    values = {key: value for key, value in overrides.items() if value is not None}
    return bound(data_dir=data_dir, **values)


def environment_credential(variable: str) -> str | None:
    """An upstream credential named by an environment variable.

    Models name the variable holding their upstream API key so the key itself is never
    stored in the database; reading it is the settings module's job.
    """
    return os.environ.get(variable) or None


def operator_token() -> str | None:
    """The operator token the CLI acts with (``CLEARANCE_TOKEN``), if set.

    Deliberately not a setting: a credential must not be kept in ``clearance.toml``.
    """
    return os.environ.get(f"{ENV_PREFIX}TOKEN") or None


def export_for_workers(settings: Settings) -> None:
    """Make worker processes started by the server load these same settings."""
    os.environ.update(settings_environment(settings))


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment, for a child process that loads these settings."""
    return {**os.environ, **settings_environment(settings)}


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment in which another process loads these same settings: every
    value set explicitly (by options, environment or file), which the environment
    passes on first."""
    found = {f"{ENV_PREFIX}DATA_DIR": str(settings.data_dir.resolve())}
    for name in settings.model_fields_set - {"data_dir"}:
        value = getattr(settings, name)
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, list | dict | bool) else str(value)
        found[f"{ENV_PREFIX}{name.upper()}"] = text
    return found
