"""What every command shares: the ``--data-dir`` option, running async services,
turning errors into one clear line and a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import pwd
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission, allows
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.errors import AuthFailed, ClearanceError, NotAllowed
from clearance.settings import Settings, load_settings, operator_token

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The installation's data directory "
        "[default: $CLEARANCE_DATA_DIR or ./clearance-data].",
        file_okay=False,
    ),
]


class Output(StrEnum):
    TEXT = "text"
    JSON = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]


HOW_TO_AUTHENTICATE = (
    "set CLEARANCE_TOKEN to an operator API token "
    "('clearance init' prints the first admin's; 'clearance operators tokens create' makes more)"
)


def local_actor() -> str:
    """The audit actor for setup run on this machine (init, demo): the OS account."""
    return f"local:{pwd.getpwuid(os.getuid()).pw_name}"


def fail(message: str, code: int = 1) -> typer.Exit:
    # Plain text: a message may contain [brackets] that are not markup, and a
    # script grepping stderr should get it on one line.
    err_console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    try:
        yield
    except ClearanceError as exc:
        raise fail(exc.message) from None
    except ValidationError as exc:
        raise fail(f"invalid settings: {exc}") from None


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    with reported_errors():
        return load_settings(data_dir, **overrides)


def with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` against the installation's services, with the schema up to date."""

    async def main() -> T:
        services = build_services(settings)
        try:
            await migrate.upgrade(services.db)
            return await work(services)
        finally:
            await services.close()

    with reported_errors():
        return asyncio.run(main())


def with_caller(
    settings: Settings,
    permission: Permission | None,
    work: Callable[[Services, Caller], Awaitable[T]],
) -> T:
    """Run ``work`` as the operator whose token is in ``CLEARANCE_TOKEN``, if their
    token's role has ``permission`` (``None``: any signed-in operator)."""

    async def as_caller(services: Services) -> T:
        token = operator_token()
        if token is None:
            raise AuthFailed("no_token", HOW_TO_AUTHENTICATE)
        caller = await services.operators.authenticate(token)
        if caller is None:
            raise AuthFailed("invalid_token", "CLEARANCE_TOKEN is invalid, expired or revoked")
        if permission is not None and not allows(caller.role, permission):
            raise NotAllowed(
                f"the {caller.role.value} role may not do this (needs {permission.value})"
            )
        return await work(services, caller)

    return with_services(settings, as_caller)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
