"""``clearance policy …``, ``clearance apply`` and ``clearance export``: the rules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.text import Text

from clearance import yamlfile
from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    fail,
    print_json,
    print_table,
    reported_errors,
    settings_for,
    with_caller,
)
from clearance.errors import InvalidInput
from clearance.policy.authorizer import Question
from clearance.policy.engine import default_files, load_schema
from clearance.policy.source import PolicyError, compile_policies
from clearance.policy.testing import run_file
from clearance.program.document import parse, read_policy_dir

if TYPE_CHECKING:
    from clearance.container import Services

policy_app = typer.Typer(help="The authorization policy set (Cedar).", no_args_is_help=True)


def _read(paths: list[Path]) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            files |= read_policy_dir(path)
        elif path.is_file():
            files[path.name] = path.read_text()
        else:
            raise InvalidInput(f"{path} does not exist", "path")
    return files


@policy_app.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="Policy files or directories of *.cedar.")],
    data_dir: DataDir = None,  # accepted like everywhere; no installation is needed
) -> None:
    """Check policies against Clearance's schema (no installation needed)."""
    with reported_errors():
        try:
            compiled = compile_policies(_read(paths), load_schema())
        except PolicyError as exc:
            raise fail(f"invalid policy: {exc}") from None
    console.print(f"OK: {len(compiled.meta)} policies in {len(compiled.files)} files are valid.")


@policy_app.command("defaults")
def defaults_command(
    directory: Annotated[Path, typer.Argument(help="Where to write them.")],
    data_dir: DataDir = None,  # accepted like everywhere; no installation is needed
) -> None:
    """Write Clearance's shipped default policies into a directory, to start from."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in default_files().items():
        (directory / name).write_text(text)
    console.print(f"Wrote {len(default_files())} policy files to {directory}.")


@policy_app.command("apply")
def apply_command(
    directory: Annotated[Path, typer.Argument(help="A directory of *.cedar files.")],
    data_dir: DataDir = None,
) -> None:
    """Make a directory's policies the set in force (validated; audited with the diff)."""
    with reported_errors():
        files = _read([directory])

    async def apply(services: Services, actor: str) -> int | None:
        try:
            applied = await services.policies.apply(actor, files)
        except PolicyError as exc:
            raise InvalidInput(f"invalid policy: {exc}") from None
        return applied.version if applied else None

    version = with_caller(settings_for(data_dir), P.POLICY_WRITE, lambda s, c: apply(s, c.actor))
    console.print(f"Policy set version {version} is in force." if version else "No change.")


@policy_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")],
    data_dir: DataDir = None,
) -> None:
    """Write the policy set in force into a directory."""
    active = with_caller(settings_for(data_dir), P.POLICY_READ, lambda s, c: s.policies.active())
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in active.files.items():
        (directory / name).write_text(text)
    console.print(
        f"Wrote policy set version {active.version} ({len(active.files)} files) to {directory}."
    )


@policy_app.command("test")
def run_tests_command(
    file: Annotated[Path, typer.Argument(help="A YAML file of cases (see the README).")],
    policies: Annotated[
        Path | None, typer.Option(help="Test these policies [default: the set in force].")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run example requests against a policy set and compare with expected decisions."""
    with reported_errors():
        try:
            document = yamlfile.load(file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise fail(f"cannot read {file}: {exc}") from None
        if policies is not None:
            files = _read([policies])
        else:
            files = with_caller(
                settings_for(data_dir), P.POLICY_READ, lambda s, c: _active_files(s)
            )
        try:
            compiled = compile_policies(files, load_schema())
        except PolicyError as exc:
            raise fail(f"invalid policy: {exc}") from None
        results = run_file(compiled, load_schema(), document)
    rows: list[tuple[Text | str, ...]] = []
    for result in results:
        mark = Text("✓", "green") if result.passed else Text("✗", "red")
        decided = "allow" if result.decision.allowed else f"deny ({result.decision.code})"
        rows.append((mark, result.name, decided, ", ".join(result.decision.policies)))
        if result.problem:
            rows.append(("", Text(f"  {result.problem}", "red"), "", ""))
    print_table(("", "case", "decision", "by"), rows)
    failed = sum(not r.passed for r in results)
    if failed:
        raise fail(f"{failed} of {len(results)} cases failed")
    console.print(f"{len(results)} passed, 0 failed")


async def _active_files(services: Services) -> dict[str, str]:
    return (await services.policies.active()).files


@policy_app.command("explain")
def explain_command(
    key: Annotated[str, typer.Option(help="API key id (key_…).")],
    model: Annotated[str, typer.Option(help="Model name.")],
    action: Annotated[str, typer.Option(help="invoke, embed or list_models.")] = "invoke",
    purpose: Annotated[str, typer.Option(help="Declared purpose (cyber, bio, …).")] = "",
    category: Annotated[
        list[str] | None, typer.Option(help="A content category screening found (repeatable).")
    ] = None,
    source_ip: Annotated[str | None, typer.Option(help="Where the request comes from.")] = None,
    end_user: Annotated[str | None, typer.Option(help="The end user it names.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Show why one request would be allowed or denied, against the live state."""

    async def explain(services: Services) -> dict[str, Any]:
        await services.watcher.check()
        principal = services.key_index.principal(key)
        found = services.catalog.get(model)
        if principal is None or found is None:
            raise InvalidInput("no such key or model")
        question = Question(action, purpose, frozenset(category or ()), source_ip, end_user)
        decision = services.authorizer.decide(principal, found, question)
        return {
            "allowed": decision.allowed,
            "code": decision.code,
            "reason": decision.reason,
            "policies": [
                {"id": p, "where": services.authorizer.where(p)} for p in decision.policies
            ],
            "context": services.authorizer.context(principal, found, question),
        }

    result = with_caller(settings_for(data_dir), P.POLICY_READ, lambda s, c: explain(s))
    if output is Output.JSON:
        print_json(result)
        return
    verdict = "[green]ALLOW[/green]" if result["allowed"] else f"[red]DENY[/red] ({result['code']})"
    console.print(f"{verdict}: {result['reason']}")
    for policy in result["policies"]:
        console.print(f"  {policy['id']}  at {policy['where']}", highlight=False)
    console.print("context:", highlight=False)
    for name, value in result["context"].items():
        console.print(f"  {name} = {value!r}", highlight=False)


def apply_program_command(
    file: Annotated[Path, typer.Option("--file", "-f", help="The program file (YAML).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the changes.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create or update models, country tables and policies from a program file."""
    with reported_errors():
        try:
            program = parse(file.read_text(), base=file.parent)
        except OSError as exc:
            raise fail(f"cannot read {file}: {exc}") from None

    async def apply(services: Services, actor: str) -> list[str]:
        try:
            return [str(c) for c in await services.program.apply(actor, program, dry_run)]
        except PolicyError as exc:
            raise InvalidInput(f"invalid policy: {exc}") from None

    changes = with_caller(settings_for(data_dir), P.POLICY_WRITE, lambda s, c: apply(s, c.actor))
    if not changes:
        console.print("No changes: the installation already matches the program.")
        return
    console.print(("Would change" if dry_run else "Changed") + f" ({len(changes)}):")
    for change in changes:
        console.print(f"  {change}", highlight=False, soft_wrap=True)


def export_program_command(
    output_file: Annotated[
        Path | None, typer.Option("--output-file", "-f", help="Write here [default: stdout].")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Write the current program (models, country tables, policies) as a program file."""
    document = with_caller(settings_for(data_dir), P.POLICY_READ, lambda s, c: s.program.export())
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    if output_file is None:
        typer.echo(text, nl=False)
    else:
        output_file.write_text(text)
        console.print(f"Wrote {output_file}.")
