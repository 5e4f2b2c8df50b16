"""``clearance login`` and ``clearance logout``: an operator signs in on the command
line (name, password, TOTP — enrolling TOTP the first time) and the CLI acts as them.

Signing in makes an operator API token for the operator, labelled ``cli@<host>``, and
stores it where every later command finds it (``credentials``); the sign-in's own
session is ended at once. ``logout`` revokes that token, so it stops working
everywhere, and deletes the file. Prompts and the enrolment secret go to standard
error: standard output carries only the outcome (with ``--print``, the token alone).
"""

from __future__ import annotations

import asyncio
import getpass
import socket
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clearance.accounts.models import OperatorRole
from clearance.audit.acting import acting
from clearance.cli import credentials
from clearance.cli.common import (
    DataDir,
    console,
    err_console,
    reported_errors,
    settings_for,
    when,
    with_services,
)
from clearance.errors import AuthFailed, SetupError

if TYPE_CHECKING:
    from clearance.accounts.logins import Logins, SignIn
    from clearance.accounts.models import Caller
    from clearance.container import Services

DEFAULT_DAYS = 1
"""A sign-in on the command line lasts about as long as a console session: a day."""
ENROLMENT_TRIES = 3


@dataclass(frozen=True)
class SignedIn:
    operator: str
    role: str
    token_id: str
    expires_at: datetime | None
    secret: str
    replaced: str | None
    """The operator whose stored sign-in this one replaced (and revoked), if any."""


def ask(text: str, hidden: bool = False) -> str:
    """Ask on standard error and read the answer, a line of standard input (hidden:
    from the terminal, unechoed). End of input or Ctrl-C cancel the sign-in."""
    try:
        if hidden:
            return getpass.getpass(f"{text}: ", stream=sys.stderr)
        sys.stderr.write(f"{text}: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        if not sys.stdin.isatty():  # a terminal echoed the answer's newline; a pipe did not
            sys.stderr.write("\n")
        return line.strip()
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\n")
        raise AuthFailed("cancelled", "sign-in cancelled") from None


def token_id(caller: Caller) -> str:
    """The id of the token a token-authenticated caller presented (``via``)."""
    return caller.via.removeprefix("token:")


async def sign_in(logins: Logins, name: str, password: str) -> SignIn:
    """Password, then the TOTP code — or, the first time, TOTP enrolment."""
    try:
        result = await logins.sign_in("operator", name, password, None, None)
    except AuthFailed as exc:
        if exc.code != "totp_required":
            raise
        code = ask("Authenticator code")
        result = await logins.sign_in("operator", name, password, code, None)
    if result.session_token is not None:
        return result
    assert result.enrolment_ticket is not None
    err_console.print(
        "First sign-in: add this account to an authenticator app (TOTP: 6 digits every "
        f"30 s), by its secret\n\n  {result.totp_secret}\n\nor by this URI (the one a QR "
        f"code would hold):\n\n  {result.totp_uri}\n",
        highlight=False,
        markup=False,
    )
    for attempt in range(1, ENROLMENT_TRIES + 1):
        code = ask("Code from the authenticator")
        try:
            return await logins.confirm_enrolment(result.enrolment_ticket, code, None)
        except AuthFailed as exc:
            if exc.code != "invalid_totp" or attempt == ENROLMENT_TRIES:
                raise
            err_console.print("That code is wrong or expired; try the next one.")
    raise AssertionError("unreachable")


def stored_token(path: Path) -> str | None:
    """The token stored at ``path``, even one others may read (to revoke it)."""
    try:
        return credentials.read(path)
    except SetupError:  # readable by others: all the more reason to revoke it
        return path.read_text(encoding="ascii", errors="replace").strip() or None


async def revoke(services: Services, token: str | None) -> str | None:
    """Revoke ``token`` if it still works, whoever's it is; their name."""
    caller = await services.operators.authenticate(token) if token is not None else None
    if caller is None:
        return None
    with acting(caller.actor, caller.via):
        await services.operators.revoke_token(caller, token_id(caller))
    return caller.operator.name


def _locked(exc: AuthFailed) -> AuthFailed:
    if exc.code != "account_locked" or not exc.retry_after:
        return exc
    minutes = -(-exc.retry_after // 60)
    return AuthFailed(
        exc.code,
        f"too many failed sign-ins: the account is locked; try again in {minutes} "
        f"minute{'s' if minutes != 1 else ''}",
    )


def login_command(
    name: Annotated[str | None, typer.Option(help="Your operator name [default: asked].")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from standard input's first line (for scripts; needs "
            "--name); codes asked for then come from the next lines.",
        ),
    ] = False,
    days: Annotated[
        int, typer.Option(min=1, help="Days the sign-in lasts (at most max_token_days).")
    ] = DEFAULT_DAYS,
    role: Annotated[
        OperatorRole | None, typer.Option(help="Act as this role: yours, or auditor.")
    ] = None,
    print_token: Annotated[
        bool,
        typer.Option("--print", help="Print the token on standard output instead of storing it."),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Sign in as an operator, keeping a token for the commands that follow.

    Asks for the password and the authenticator code; the first time, shows the TOTP
    secret to enrol and asks for a first code. The token is kept in a file only you can
    read (~/.config/clearance/tokens/), unless --print."""
    settings = settings_for(data_dir)
    if password_stdin and name is None:
        raise typer.BadParameter("--password-stdin needs --name", param_hint="--name")
    name = name if name is not None else ask("Operator name")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = ask("Password", hidden=True)
    label = f"cli@{socket.gethostname()}"[:128]
    path, previous = None, None
    if not print_token:
        with reported_errors():
            path = credentials.token_file(settings)
            credentials.check_writable(path)
            previous = stored_token(path)

    async def work(services: Services) -> SignedIn:
        try:
            session_token = (await sign_in(services.logins, name, password)).session_token
        except AuthFailed as exc:
            raise _locked(exc) from None
        assert session_token is not None
        try:
            session = await services.logins.session(session_token)
            caller = await services.operators.caller_for_session(session.subject_id, session.id)
            if caller is None:
                raise AuthFailed("account_disabled", "the operator account is disabled")
            replaced = await revoke(services, previous)
            with acting(caller.actor, caller.via):
                token, issued = await services.operators.issue_token(caller, role, days, label)
                if path is not None:
                    try:
                        await asyncio.to_thread(credentials.store, path, issued.secret)
                    except SetupError:  # a token nobody could use: revoked at once
                        await services.operators.revoke_token(caller, token.id)
                        raise
        finally:
            await services.logins.sign_out(session_token)
        return SignedIn(
            caller.operator.name,
            token.role.value,
            token.id,
            token.expires_at,
            issued.secret,
            replaced,
        )

    report(with_services(settings, work), path)


def report(signed: SignedIn, path: Path | None) -> None:
    from clearance.settings import operator_token  # noqa: PLC0415

    who = f"Signed in as {signed.operator} ({signed.role})"
    expiry = when(signed.expires_at, "never")
    if path is None:
        err_console.print(f"{who}: token {signed.token_id}, expires {expiry}.", highlight=False)
        sys.stdout.write(signed.secret + "\n")
        return
    if signed.replaced is not None:
        err_console.print(f"The sign-in stored before (as {signed.replaced}) is revoked.")
    console.print(
        f"{who}. Token {signed.token_id}, expires {expiry}, stored in {path}; "
        "'clearance logout' revokes it.",
        highlight=False,
        markup=False,
    )
    if operator_token() is not None:
        err_console.print("note: CLEARANCE_TOKEN is set, and commands act with it instead.")


def logout_command(data_dir: DataDir = None) -> None:
    """Revoke the token 'clearance login' stored (everywhere, at once) and delete it."""
    settings = settings_for(data_dir)
    with reported_errors():
        path = credentials.token_file(settings)
        token = stored_token(path) if path.exists() else None
    if token is None:
        credentials.remove(path)  # an empty file, say
        console.print("Not signed in to this installation.")
        return
    name = with_services(settings, lambda services: revoke(services, token))
    credentials.remove(path)
    if name is None:
        console.print(
            f"Signed out (the stored token had expired or was revoked); deleted {path}.",
            highlight=False,
            markup=False,
        )
    else:
        console.print(
            f"Signed out {name}: the token is revoked and {path} deleted.",
            highlight=False,
            markup=False,
        )
