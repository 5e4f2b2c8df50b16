"""A model's declaration as the admin API and program files write it."""

from pydantic import BaseModel, ConfigDict, Field

from clearance.limits.models import Limits
from clearance.registry.models import ModelSpec, Retention


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: str = Field(default="none", description="none | digest | encrypted")
    days: int = Field(default=0, ge=0, le=3650)


class ModelDeclaration(BaseModel):
    """Everything about a model except its name."""

    model_config = ConfigDict(extra="forbid")

    upstream_url: str = Field(
        max_length=2048, description="The upstream's OpenAI base URL, e.g. http://host:8000/v1"
    )
    upstream_model: str | None = Field(
        default=None, max_length=256, description="The upstream's name for it (default: name)."
    )
    upstream_key_env: str | None = Field(
        default=None, max_length=128, description="Environment variable holding the upstream key."
    )
    upstream_key_file: str | None = Field(
        default=None, max_length=1024, description="File holding the upstream key."
    )
    upstream_api: str = Field(default="openai", description="openai | anthropic")
    aliases: list[str] = Field(default_factory=list, max_length=20)
    risk: dict[str, str | int] = Field(
        default_factory=dict,
        description="Risk domain -> level: 0-4, none…critical, OpenAI:High, ASL-3, "
        "CCL:Cyber Uplift Level 1.",
    )
    release_mode: str = Field(
        default="trusted-access", description="public | trusted-access | internal-only"
    )
    export_control: str | None = Field(default=None, max_length=32, description="e.g. 4E091, EAR99")
    jurisdiction: str | None = Field(
        default=None, max_length=64, description="Country table (default: the program's default)."
    )
    retention: RetentionIn = Field(default_factory=RetentionIn)
    safeguards: list[str] = Field(
        default_factory=list, description="inline_screening, output_screening"
    )
    min_org_tier: int = Field(default=1, ge=1, le=3)
    limits: dict[str, int] = Field(
        default_factory=dict,
        description="Limits across everyone: rpm, tpm, concurrency, daily_tokens, monthly_tokens.",
    )

    content_types: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Content part types passed through beyond those the API defines "
        "(screened like any other text).",
    )

    def spec(self) -> ModelSpec:
        return ModelSpec(
            upstream_url=self.upstream_url,
            upstream_model=self.upstream_model,
            upstream_key_env=self.upstream_key_env,
            upstream_key_file=self.upstream_key_file,
            upstream_api=self.upstream_api,
            aliases=tuple(self.aliases),
            risk={domain: str(label) for domain, label in self.risk.items()},
            release_mode=self.release_mode,
            export_control=self.export_control,
            jurisdiction=self.jurisdiction,
            retention=Retention(self.retention.mode, self.retention.days),
            safeguards=tuple(self.safeguards),
            min_org_tier=self.min_org_tier,
            limits=Limits.from_document(self.limits, "limits"),
            content_types=tuple(self.content_types),
        )


class ModelIn(ModelDeclaration):
    name: str = Field(max_length=128, description="The name clients use in requests.")
