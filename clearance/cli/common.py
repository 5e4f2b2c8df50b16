"""What every command shares: the ``--data-dir`` option, running async services as
the signed-in operator, tables, and errors as one clear line and a non-zero exit.

The services, the database and the settings are imported only when a command runs,
not when its module is loaded: ``--help`` and a mistyped option answer at once.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clearance.errors import AuthFailed, ClearanceError, NotAllowed

if TYPE_CHECKING:
    from clearance.accounts.models import Caller
    from clearance.accounts.permissions import Permission
    from clearance.container import Services
    from clearance.settings import Settings

T = TypeVar("T")

# Soft wrap: rich never breaks a line itself (a terminal wraps it; a pipe gets it whole).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The installation's data directory "
        r"\[default: $CLEARANCE_DATA_DIR or ./clearance-data].",
        file_okay=False,
    ),
]


class Output(StrEnum):
    TEXT = "text"
    JSON = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]


HOW_TO_AUTHENTICATE = (
    "not signed in: run 'clearance login', or set CLEARANCE_TOKEN to an operator API token "
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
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        yield
    except ClearanceError as exc:
        raise fail(exc.message) from None
    except ValidationError as exc:
        raise fail(f"invalid settings: {exc}") from None


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    from clearance.settings import load_settings  # noqa: PLC0415

    with reported_errors():
        return load_settings(data_dir, **overrides)


def with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` against the installation's services, with the schema brought up to
    date first if it is behind."""
    import asyncio  # noqa: PLC0415

    from clearance.container import build_services  # noqa: PLC0415
    from clearance.db import migrate  # noqa: PLC0415

    async def main() -> T:
        services = build_services(settings)
        try:
            if await migrate.pending(services.db):  # else no write, and no loading every table
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
    """Run ``work`` as the signed-in operator — the token in ``CLEARANCE_TOKEN``, else
    the one ``clearance login`` stored — if their token's role has ``permission``
    (``None``: any signed-in operator)."""
    from clearance.accounts.permissions import may, refusal  # noqa: PLC0415
    from clearance.audit.acting import acting  # noqa: PLC0415
    from clearance.cli import credentials  # noqa: PLC0415
    from clearance.settings import operator_token  # noqa: PLC0415

    token, stored = operator_token(), None
    if token is None:
        with reported_errors():
            stored = credentials.token_file(settings)
            token = credentials.read(stored)

    async def as_caller(services: Services) -> T:
        if token is None:
            raise AuthFailed("no_token", HOW_TO_AUTHENTICATE)
        caller = await services.operators.authenticate(token)
        if caller is None and stored is not None:
            raise AuthFailed(
                "invalid_token",
                f"the sign-in stored in {stored} has expired or was revoked: "
                "run 'clearance login' again",
            )
        if caller is None:
            raise AuthFailed("invalid_token", "CLEARANCE_TOKEN is invalid, expired or revoked")
        if permission is not None and not may(caller, permission):
            raise NotAllowed(refusal(caller, permission).rstrip("."))
        with acting(caller.actor, caller.via):  # its entries name the token (``via``)
            return await work(services, caller)

    return with_services(settings, as_caller)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_models(rows: Iterable[Any]) -> None:
    """Print pydantic models (the admin API's response models) as its JSON would be."""
    print_json([row.model_dump(mode="json") for row in rows])


Cell = str | Text


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
    """A table every value of which is printed whole.

    On a terminal: a table, each value as it is (never read as markup). A column of
    single words (ids, times, states) is as wide as its longest; others wrap. A table
    too wide for the terminal is drawn wider, for the terminal to wrap, rather than
    cut. Not on a terminal (a pipe, a file): tab-separated lines, a header first, for
    ``cut``, ``awk`` and ``grep``."""
    texts = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    if not console.is_terminal:
        lines = ["\t".join(columns)]
        lines += ["\t".join(_one_line(cell.plain) for cell in row) for row in texts]
        sys.stdout.write("".join(line + "\n" for line in lines))
        return
    table = Table()
    needed = 1  # the left border; each column adds its padding and a border
    for index, header in enumerate(columns):
        values = [header, *(row[index].plain for row in texts)]
        longest = max(len(value) for value in values)
        if all(len(value.split()) <= 1 for value in values[1:]):
            table.add_column(header, overflow="fold", min_width=longest)
        else:
            table.add_column(header, overflow="fold")
            longest = min(longest, WRAPPED_MIN_WIDTH)
        needed += longest + 3
    for row in texts:
        table.add_row(*row)
    console.print(table, width=max(console.width, needed), crop=False)


WRAPPED_MIN_WIDTH = 12
"""The narrowest a column of text that wraps is drawn."""


def when(value: datetime | None, otherwise: str = "-") -> str:
    """A time for a table cell, to the second; ``otherwise`` when there is none."""
    return value.isoformat(timespec="seconds") if value is not None else otherwise


def _one_line(value: str) -> str:
    return " ".join(value.replace("\t", " ").splitlines())
