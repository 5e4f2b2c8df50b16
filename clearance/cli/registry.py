"""``clearance models …``."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    print_json,
    print_models,
    print_table,
    settings_for,
    with_caller,
)
from clearance.registry.models import ModelSpec

models_app = typer.Typer(help="Models behind the gateway.", no_args_is_help=True)


def _risk(pairs: list[str]) -> dict[str, str]:
    risk: dict[str, str] = {}
    for pair in pairs:
        domain, sep, level = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not DOMAIN=LEVEL", param_hint="--risk")
        risk[domain.strip()] = level.strip()
    return risk


@models_app.command("add")
def models_add(
    name: Annotated[str, typer.Argument(help="The name clients use in requests.")],
    upstream_url: Annotated[
        str,
        typer.Option(help="The upstream's OpenAI base URL, e.g. http://127.0.0.1:8000/v1"),
    ],
    upstream_model: Annotated[
        str | None, typer.Option(help="The upstream's name for the model [default: NAME].")
    ] = None,
    upstream_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable that holds the upstream API key."),
    ] = None,
    upstream_key_file: Annotated[
        str | None, typer.Option(help="File that holds the upstream API key.")
    ] = None,
    upstream_api: Annotated[
        str, typer.Option(help="openai (an OpenAI-compatible server) or anthropic.")
    ] = "openai",
    alias: Annotated[
        list[str] | None, typer.Option(help="Another name for it (repeatable).")
    ] = None,
    risk: Annotated[
        list[str] | None,
        typer.Option(help="DOMAIN=LEVEL, e.g. cyber=OpenAI:High or bio=ASL-3 (repeatable)."),
    ] = None,
    release: Annotated[
        str, typer.Option(help="public | trusted-access | internal-only.")
    ] = "trusted-access",
    export_control: Annotated[
        str | None, typer.Option(help="Export-control classification, e.g. 4E091 or EAR99.")
    ] = None,
    jurisdiction: Annotated[
        str | None, typer.Option(help="Country table [default: the program's default].")
    ] = None,
    safeguard: Annotated[
        list[str] | None,
        typer.Option(help="Required safeguard: inline_screening, output_screening (repeatable)."),
    ] = None,
    min_org_tier: Annotated[int, typer.Option(min=1, max=3, help="Lowest organization tier.")] = 1,
    content_type: Annotated[
        list[str] | None,
        typer.Option(
            help="A content part type to pass through beyond the API's own, screened like "
            "any text (repeatable)."
        ),
    ] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Register a model behind an OpenAI-compatible upstream, with its classification.

    For a whole program kept in version control, use 'clearance apply -f program.yaml'.
    """
    spec = ModelSpec(
        upstream_url=upstream_url,
        upstream_model=upstream_model,
        upstream_key_env=upstream_key_env,
        upstream_key_file=upstream_key_file,
        upstream_api=upstream_api,
        aliases=tuple(alias or ()),
        risk=_risk(risk or []),
        release_mode=release,
        export_control=export_control,
        jurisdiction=jurisdiction,
        safeguards=tuple(safeguard or ()),
        min_org_tier=min_org_tier,
        content_types=tuple(content_type or ()),
    )
    model = with_caller(
        settings_for(data_dir), P.MODELS_WRITE, lambda s, c: s.models.add(c.actor, name, spec)
    )
    if output is Output.JSON:
        print_json({"id": model.id, "name": model.name})
    else:
        console.print(
            f"Registered model [bold]{model.name}[/bold] ({model.id}) → "
            f"{model.upstream_url} as {model.upstream_model}."
        )


@models_app.command("list")
def models_list(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List registered models."""
    models = with_caller(settings_for(data_dir), P.MODELS_READ, lambda s, c: s.models.list())
    if output is Output.JSON:
        from clearance.registry.views import ModelOut  # noqa: PLC0415

        print_models(ModelOut.of(m) for m in models)
        return
    print_table(
        ("id", "name", "upstream", "upstream model", "key from"),
        [
            (m.id, m.name, m.upstream_url, m.upstream_model, m.upstream_key_env or "-")
            for m in models
        ],
    )
