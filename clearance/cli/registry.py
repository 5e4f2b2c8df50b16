"""``clearance models …``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    print_json,
    settings_for,
    with_caller,
)

models_app = typer.Typer(help="Models behind the gateway.", no_args_is_help=True)


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
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Register a model behind an OpenAI-compatible upstream."""
    model = with_caller(
        settings_for(data_dir),
        P.MODELS_WRITE,
        lambda s, c: s.models.add(c.actor, name, upstream_url, upstream_model, upstream_key_env),
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
        print_json(
            [
                {
                    "id": m.id,
                    "name": m.name,
                    "upstream_url": m.upstream_url,
                    "upstream_model": m.upstream_model,
                }
                for m in models
            ]
        )
        return
    table = Table("id", "name", "upstream", "upstream model", "key from")
    for m in models:
        table.add_row(m.id, m.name, m.upstream_url, m.upstream_model, m.upstream_key_env or "-")
    console.print(table)
