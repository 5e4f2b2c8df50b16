"""The ``clearance`` command: every operator action, scriptable.

Each command's module is imported only when that command runs (or its help is
shown): ``clearance orgs list`` never loads the web server, the policy compiler or the
screening lists' name matching. Only ``clearance --help`` imports them all, to list
them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup

COMMANDS: dict[str, str] = {
    "init": "clearance.cli.setup:init_command",
    "serve": "clearance.cli.setup:serve_command",
    "demo": "clearance.cli.setup:demo_command",
    "login": "clearance.cli.login:login_command",
    "logout": "clearance.cli.login:logout_command",
    "models": "clearance.cli.registry:models_app",
    "orgs": "clearance.cli.identity:orgs_app",
    "keys": "clearance.cli.identity:keys_app",
    "members": "clearance.cli.members:members_app",
    "service-accounts": "clearance.cli.members:services_app",
    "end-users": "clearance.cli.members:end_users_app",
    "entitlements": "clearance.cli.members:entitlements_app",
    "operators": "clearance.cli.accounts:operators_app",
    "usage": "clearance.cli.usage:usage_app",
    "cases": "clearance.cli.cases:cases_app",
    "alerts": "clearance.cli.alerts:alerts_app",
    "enforcement": "clearance.cli.enforcement:enforcement_app",
    "monitor": "clearance.cli.monitor:monitor_app",
    "audit": "clearance.cli.audit:audit_app",
    "policy": "clearance.cli.policy:policy_app",
    "applications": "clearance.cli.vetting:applications_app",
    "screening": "clearance.cli.screening:screening_app",
    "terms": "clearance.cli.screening:terms_app",
    "apply": "clearance.cli.policy:apply_program_command",
    "export": "clearance.cli.policy:export_program_command",
    "db": "clearance.cli.database:db_app",
}
"""Every top-level command, in the order help lists them: ``module:attribute``, a
``typer.Typer`` (a group) or a command function."""


def load(name: str) -> Any:
    """The click command ``name`` is, built by typer exactly as ``add_typer`` or
    ``command`` would have built it, from its module imported now."""
    module, _, attribute = COMMANDS[name].partition(":")
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    holder.callback()(lambda: None)  # always a group, whatever it holds
    return typer.main.get_group(holder).commands[name]


class LazyCommands(MutableMapping[str, Any]):
    """A group's subcommands by name, the lazy ones (``COMMANDS``) loaded when first
    looked up. Iterating lists every name, in ``COMMANDS`` order after any added
    eagerly; listing the items (help, a walk over every command) loads them all."""

    def __init__(self, eager: MutableMapping[str, Any]) -> None:
        self._loaded = dict(eager)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in COMMANDS:
            self._loaded[name] = load(name)
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in COMMANDS

    def __iter__(self) -> Iterator[str]:
        yield from self._loaded
        yield from (name for name in COMMANDS if name not in self._loaded)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]


class LazyGroup(TyperGroup):
    """The top-level group: its subcommands are imported when first asked for."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands)


app = typer.Typer(
    name="clearance",
    cls=LazyGroup,
    help="Clearance: a trusted-access gateway and control plane for restricted AI models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.callback()(lambda: None)  # a group even before any subcommand is loaded


def run() -> None:
    app()
