"""The program file: apply is idempotent and shows what changes; export round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clearance.container import Services
from clearance.errors import InvalidInput
from clearance.policy.engine import default_files
from clearance.policy.source import PolicyError
from clearance.program.document import parse

PROGRAM = """
default_country_table: strict
country_tables:
  - name: strict
    source: "test table"
    default_tier: 2
    tiers: {1: [US, NO], 3: [CN, IN]}
models:
  cyber-pro:
    upstream_url: http://127.0.0.1:9/v1
    upstream_model: echo
    aliases: [cp]
    risk: {cyber: OpenAI:High, bio: ASL-2}
    export_control: 4E091
    min_org_tier: 2
    safeguards: [inline_screening]
    retention: {mode: encrypted, days: 30}
"""


async def test_apply_then_again_changes_nothing(services: Services, tmp_path: Path) -> None:
    program = parse(PROGRAM, tmp_path)
    assert program.country_tables[0].tiers["NO"] == 1  # Norway is not a boolean
    planned = await services.program.apply("local:test", program, dry_run=True)
    assert [c.what for c in planned] == ["country table", "default country table", "model"]
    assert await services.models.list() == []  # a dry run changes nothing
    before = await services.audit.count()
    applied = await services.program.apply("local:test", program)
    assert [str(c) for c in applied] == [str(c) for c in planned]
    assert await services.audit.count() == before + 3
    assert await services.program.apply("local:test", program) == []
    assert await services.audit.count() == before + 3
    model = await services.models.get("cyber-pro")
    assert (model.level("cyber"), model.level("bio"), model.controlled) == (3, 2, True)


async def test_changes_are_shown_field_by_field(services: Services, tmp_path: Path) -> None:
    await services.program.apply("local:test", parse(PROGRAM, tmp_path))
    changed = PROGRAM.replace("min_org_tier: 2", "min_org_tier: 3").replace("IN]}", "IN, RU]}")
    (table, model) = await services.program.apply("local:test", parse(changed, tmp_path))
    assert "RU -→3" in table.detail
    assert model.detail == "min_org_tier 2 → 3"
    kinds = [e.kind for e in await services.audit.entries(limit=1000)]
    assert kinds[-2:] == ["country_table.changed", "model.updated"]


async def test_export_round_trips(services: Services, tmp_path: Path) -> None:
    await services.program.apply("local:test", parse(PROGRAM, tmp_path))
    exported = yaml.safe_dump(await services.program.export())
    before = await services.audit.count()
    # The export holds the shipped default policies, in force: applying it is a no-op
    # and writes nothing (it once wrote an empty policy.changed entry).
    assert await services.program.apply("local:test", parse(exported, tmp_path)) == []
    assert await services.audit.count() == before
    assert (await services.policies.active()).version == 0


async def test_policies_from_a_directory_are_validated_and_applied(
    services: Services, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for name, text in default_files().items():
        (policies / name).write_text(text)
    program = parse("policies_dir: policies\n", tmp_path)
    assert await services.program.apply("local:test", program) == []  # the defaults, in force
    (policies / "50-extra.cedar").write_text(
        '@id("no-embedding")\n@code("access_denied")\n'
        'forbid (principal, action == Clearance::Action::"embed", resource);\n'
    )
    (change,) = await services.program.apply(
        "local:test", parse("policies_dir: policies\n", tmp_path)
    )
    assert change.what == "policies"
    assert (await services.policies.active()).version == 1
    (policies / "99-bad.cedar").write_text(
        '@id("x")\npermit (principal, action, resource) when { context.nope };\n'
    )
    with pytest.raises(PolicyError, match=r"99-bad\.cedar:1"):
        await services.program.apply("local:test", parse("policies_dir: policies\n", tmp_path))
    assert (await services.policies.active()).version == 1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("models: {m: {upstream_url: 'http://x/v1', risk: {cyber: Extreme}}}", "risk.cyber"),
        ("models: {m: {upstream_url: 'http://x/v1', jurisdiction: nowhere}}", "jurisdiction"),
        ("models: {m: {upstream_url: 'http://x/v1', surprise: 1}}", "models.m.surprise"),
        ("country_tables: [{name: t, tiers: {1: [XX]}}]", "t.tiers"),
        ("default_country_table: nowhere", "default_country_table"),
        ("models: [", None),
    ],
)
async def test_bad_programs_are_refused_precisely(
    services: Services, tmp_path: Path, text: str, field: str | None
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await services.program.apply("local:test", parse(text, tmp_path))
    if field is not None:
        assert caught.value.field == field
    assert await services.models.list() == []
