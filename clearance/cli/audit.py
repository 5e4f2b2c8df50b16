"""``clearance audit …``: the tamper-evident log, for operators and auditors."""

from __future__ import annotations

import asyncio
import base64
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from clearance import installation
from clearance.accounts.permissions import Permission as P
from clearance.audit.integrity import LogCheck, check_log
from clearance.audit.tlog import merkle
from clearance.audit.verify import StateKept, VerificationFailed, VerifiedLog, verify_url
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    err_console,
    fail,
    print_json,
    reported_errors,
    settings_for,
    with_caller,
)
from clearance.container import Services
from clearance.errors import NotFound
from clearance.usage.integrity import UsageCheck, check_usage, sealing_deadline

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

MAX_ENTRY = 2**63 - 1
"""Entry numbers and tree sizes are stored as signed 64-bit integers: anything larger
names nothing, and is refused as a usage error rather than overflowing the database."""
DEFAULT_STATE = "auditor-state.json"
NO_STATE_WARNING = (
    "WARNING: no --state kept. This run proved only that the log it was shown is intact "
    "and signed by the key; it cannot tell whether the log was rolled back to an earlier "
    "copy or forked (a different history shown to you than to others) since anyone last "
    "looked. Keep a state file (--state FILE): the first run pins this checkpoint, every "
    "later run fails if the log does not extend it."
)


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
    _report_state(result, url, vkey, state)


def _report_state(result: VerifiedLog, url: str, vkey: str, state: Path | None) -> None:
    """Say what the run could and could not check about rollbacks and forks."""
    checkpoint = result.checkpoint
    pinned = f"size {checkpoint.size}, root {_b64(checkpoint.root)}"
    if result.state is StateKept.CHECKED:
        console.print(
            f"consistent with the {result.previous_size} entries verified before; "
            f"{state} now pins {pinned}",
            highlight=False,
            soft_wrap=True,
        )
        return
    if result.state is StateKept.CREATED:
        console.print(
            f"first run: pinned this checkpoint ({pinned}) in {state}, created now. Every "
            f"later run with --state {state} fails if the log was rolled back or forked "
            "since. Compare it out of band with the operator and other auditors: a log "
            "shown only to you could have been forked already.",
            highlight=False,
            soft_wrap=True,
        )
        return
    command = shlex.join(
        ["clearance", "audit", "verify", "--url", url, "--vkey", vkey, "--state", DEFAULT_STATE]
    )
    console.print(
        f"verified checkpoint: {pinned}\n"
        f"to pin it and detect a rollback or fork from now on, run:\n  {command}",
        highlight=False,
        soft_wrap=True,
    )
    err_console.print(NO_STATE_WARNING, style="bold red", highlight=False, soft_wrap=True)


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
    entry: Annotated[
        int, typer.Argument(min=0, max=MAX_ENTRY, help="Entry number (its leaf index).")
    ],
    size: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_ENTRY, help="Prove against this checkpoint size [default: latest]."
        ),
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
    entry: Annotated[int, typer.Argument(min=0, max=MAX_ENTRY, help="Entry number.")],
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
def check_usage_command(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """Check the stored usage against the audit log, and the log against itself.

    Every usage batch's digest is recomputed from its rows; every usage row must name
    a batch entry the log holds, and be sealed in time; every audit entry must match
    the tree's leaf hash and, together, the signed checkpoints. A database rolled back
    as a whole, or re-signed with the log's key, shows only to auditors who keep
    state ('clearance audit verify --state') and to witnesses.
    """
    settings = settings_for(data_dir)
    deadline = sealing_deadline(
        settings.usage_seal_interval,
        settings.upstream_connect_timeout + settings.upstream_read_timeout,
    )

    async def run(services: Services) -> tuple[LogCheck, UsageCheck]:
        verifier = installation.read_log_signer(services.settings).verifier()
        log = await check_log(services.db, verifier)
        usage = await check_usage(services.db, services.audit, services.clock.now(), deadline, log)
        return log, usage

    log, usage = with_caller(settings, P.AUDIT_READ, lambda s, c: run(s))
    problems = len(usage.findings) + len(log.findings)
    if output is Output.JSON:
        print_json(
            {
                "ok": not problems,
                "usage": {
                    "batches": usage.batches,
                    "rows": usage.rows,
                    "findings": [asdict(finding) for finding in usage.findings],
                },
                "log": {
                    "head": log.head,
                    "tree_size": log.tree_size,
                    "checkpoint_size": log.checkpoint_size,
                    "findings": [asdict(finding) for finding in log.findings],
                },
            }
        )
    else:
        for message in [f.message for f in usage.findings] + [f.message for f in log.findings]:
            console.print(f"[red]✗[/red] {escape(message)}", highlight=False, soft_wrap=True)
    if problems:
        raise fail(
            f"check-usage FAILED: {problems} problems; the audit log does not vouch for "
            "the stored usage"
        )
    if output is Output.TEXT:
        signed = (
            f"the signed checkpoint of size {log.checkpoint_size}"
            if log.checkpoint_size is not None
            else "no checkpoint yet"
        )
        console.print(
            f"OK: {usage.batches} usage batches ({usage.rows} rows) match their audit "
            f"entries and every usage row is sealed; the log's {log.head} entries match "
            f"its tree ({log.tree_size}) and {signed}",
            highlight=False,
            soft_wrap=True,
        )
