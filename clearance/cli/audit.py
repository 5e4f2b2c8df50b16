"""``clearance audit …``: the tamper-evident log, for operators and auditors."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from clearance import installation
from clearance.accounts.permissions import Permission as P
from clearance.audit.tlog import merkle
from clearance.audit.verify import VerificationFailed, verify_url
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    fail,
    print_json,
    reported_errors,
    settings_for,
    with_caller,
)
from clearance.container import Services
from clearance.errors import NotFound
from clearance.usage.digest import check_batches

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@audit_app.command("key")
def key_command(data_dir: DataDir = None) -> None:
    """Print the log's verifier key (give it to auditors)."""
    with reported_errors():
        signer = installation.read_log_signer(settings_for(data_dir))
    console.print(signer.verifier().to_vkey(), highlight=False, soft_wrap=True)


@audit_app.command("verify")
def verify_command(
    url: Annotated[str, typer.Option(help="The log's base URL, e.g. https://host/log")],
    vkey: Annotated[str, typer.Option(help="The log's verifier key (from 'clearance audit key').")],
    state: Annotated[
        Path | None,
        typer.Option(help="File remembering the last verified checkpoint (rollback/fork check)."),
    ] = None,
    data_dir: DataDir = None,  # accepted like everywhere; verifying needs no installation
) -> None:
    """Verify a published log from the outside, trusting nothing the server says."""
    try:
        result = asyncio.run(verify_url(url, vkey, state))
    except VerificationFailed as exc:
        raise fail(f"verification FAILED: {exc}") from None
    checkpoint = result.checkpoint
    console.print(
        f"OK: {checkpoint.origin} — {checkpoint.size} entries, root {_b64(checkpoint.root)}",
        highlight=False,
        soft_wrap=True,
    )
    if result.previous_size is not None:
        console.print(f"consistent with the {result.previous_size} entries verified before")


async def _proof(services: Services, index: int, size: int | None) -> dict[str, Any]:
    proved = await services.prover.prove(index, size)
    return {
        "index": index,
        "tree_size": proved.checkpoint.size,
        "leaf_hash": _b64(proved.leaf_hash),
        "proof": [_b64(node) for node in proved.proof],
        "root": _b64(proved.checkpoint.root),
        "checkpoint": proved.checkpoint.note,
    }


@audit_app.command("prove")
def prove_command(
    entry: Annotated[int, typer.Argument(min=0, help="Entry number (its leaf index).")],
    size: Annotated[
        int | None, typer.Option(help="Prove against this checkpoint size [default: latest].")
    ] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Print an RFC 9162 inclusion proof of an entry in a signed checkpoint."""
    result = with_caller(settings_for(data_dir), P.AUDIT_READ, lambda s, c: _proof(s, entry, size))
    if output is Output.JSON:
        print_json(result)
        return
    console.print(
        f"entry {result['index']} in tree of size {result['tree_size']}\n"
        f"leaf hash  {result['leaf_hash']}\nroot       {result['root']}\n"
        "audit path (leaf to root):",
        highlight=False,
    )
    for node in result["proof"]:
        console.print(f"  {node}", highlight=False)
    console.print("\nsigned checkpoint:\n" + result["checkpoint"], highlight=False)


@audit_app.command("show")
def show_command(
    entry: Annotated[int, typer.Argument(min=0, help="Entry number.")],
    data_dir: DataDir = None,
) -> None:
    """Print one entry: its canonical bytes as JSON, and its leaf hash."""

    async def load(services: Services) -> tuple[bytes, int]:
        found = await services.audit.entry(entry)
        if found is None:
            raise NotFound(f"there is no audit entry {entry}")
        return found.body, found.seq

    body, seq = with_caller(settings_for(data_dir), P.AUDIT_READ, lambda s, c: load(s))
    document = {
        "entry": seq,
        "leaf_hash": _b64(merkle.leaf_hash(body)),
        "event": orjson.loads(body),
    }
    print_json(document)


@audit_app.command("checkpoint")
def checkpoint_command(data_dir: DataDir = None) -> None:
    """Integrate pending entries and sign a checkpoint now."""

    async def run(services: Services) -> str:
        made = await services.checkpoints.update(force=True)
        latest = made or await services.checkpoints.latest()
        if latest is None:
            raise NotFound("the log is empty")
        return latest.note

    note = with_caller(settings_for(data_dir), P.AUDIT_READ, lambda s, c: run(s))
    console.print(note, highlight=False, end="")


@audit_app.command("check-usage")
def check_usage_command(data_dir: DataDir = None) -> None:
    """Recompute every usage batch's digest from the stored usage records."""
    checked, problems = with_caller(
        settings_for(data_dir), P.AUDIT_READ, lambda s, c: check_batches(s.db, s.audit)
    )
    for problem in problems:
        console.print(f"[red]✗[/red] {problem.message}", highlight=False)
    if problems:
        raise fail(f"{len(problems)} of {checked} usage batches do not match the audit log")
    console.print(f"OK: {checked} usage batches match their audit entries")
