"""Reading a program file.

    default_country_table: ai-diffusion-2025
    country_tables:
      - name: my-table
        source: "Legal review, 2026-10"
        default_tier: 2
        tiers: {1: [US, GB], 3: [KP, IR]}
    models:
      cyber-pro:
        upstream_url: http://vllm.internal:8000/v1
        upstream_model: Qwen2.5-32B-Instruct
        upstream_key_env: VLLM_KEY
        risk: {cyber: OpenAI:High, bio: ASL-2}
        release_mode: trusted-access
        export_control: 4E091
        min_org_tier: 2
        safeguards: [inline_screening, output_screening]
        retention: {mode: encrypted, days: 30}
    policies_dir: policies/        # every *.cedar in it (relative to this file), or
    policies:                      # the files inline
      10-extra.cedar: |
        @id("no-autonomy") ...

Sections left out are left alone; what is named is created or brought up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clearance import yamlfile
from clearance.errors import InvalidInput
from clearance.registry.jurisdictions import table_from_document
from clearance.registry.models import CountryTable, ModelSpec
from clearance.registry.schemas import ModelDeclaration


class ProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_country_table: str | None = None
    country_tables: list[dict[str, Any]] = Field(default_factory=list)
    models: dict[str, ModelDeclaration] = Field(default_factory=dict)
    policies_dir: str | None = None
    policies: dict[str, str] | None = None


@dataclass(frozen=True)
class Program:
    default_country_table: str | None = None
    country_tables: tuple[CountryTable, ...] = ()
    models: dict[str, ModelSpec] = field(default_factory=dict)
    policies: dict[str, str] | None = None


def parse(text: str, base: Path | None) -> Program:
    """A program from YAML text; ``base`` is where relative paths start (None: the file
    came over the network, and may not name server paths)."""
    try:
        raw = yamlfile.load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the program file is not valid YAML: {exc}") from None
    try:
        document = ProgramIn.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", where) from None
    if document.policies_dir and document.policies is not None:
        raise InvalidInput("give policies_dir or policies, not both", "policies")
    policies = document.policies
    if document.policies_dir:
        if base is None:
            raise InvalidInput(
                "policies_dir cannot be used here; give the policies inline", "policies_dir"
            )
        policies = read_policy_dir(base / document.policies_dir)
    return Program(
        default_country_table=document.default_country_table,
        country_tables=tuple(table_from_document(t) for t in document.country_tables),
        models={name: declaration.spec() for name, declaration in document.models.items()},
        policies=policies,
    )


def read_policy_dir(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory of .cedar files", "policies_dir")
    files = {path.name: path.read_text() for path in sorted(directory.glob("*.cedar"))}
    if not files:
        raise InvalidInput(f"{directory} holds no .cedar files", "policies_dir")
    return files
