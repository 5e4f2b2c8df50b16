"""``clearance screening …`` (denied-party lists, checks, hits, alerts) and
``clearance terms …``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    fail,
    print_json,
    print_table,
    settings_for,
    when,
    with_caller,
)
from clearance.screening.entries import ListFormatError
from clearance.screening.formats import load
from clearance.screening.matcher import ScreeningIndex

screening_app = typer.Typer(help="Denied-party screening lists and hits.", no_args_is_help=True)
terms_app = typer.Typer(help="Versioned terms of access.", no_args_is_help=True)

Format = Annotated[str, typer.Option("--format", help="csl, sdn or ftm.")]


@screening_app.command("import")
def import_list(
    file: Annotated[Path, typer.Argument(help="A local list file (sdn: the sdn.csv).")],
    format: Format,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Import a list snapshot, then re-screen everyone in the program (an alert for
    each new hit)."""
    snapshot, alerts = with_caller(
        settings_for(data_dir),
        P.SCREENING_WRITE,
        lambda s, c: s.screening.import_file(c.actor, file.resolve(), format),
    )
    if output is Output.JSON:
        print_json({"snapshot": snapshot, "alerts": [a.document() for a in alerts]})
        return
    console.print(
        f"Imported {snapshot['entries']} entries from {snapshot['file_name']} as snapshot "
        f"{snapshot['id']} (sha256 {str(snapshot['sha256'])[:16]}…)."
    )
    for alert in alerts:
        console.print(f"alert {alert.id}: {alert.summary}", highlight=False, markup=False)


@screening_app.command("check")
def check(
    name: Annotated[str, typer.Option(help="The name to screen, in any script.")],
    country: Annotated[str | None, typer.Option(help="ISO country code, if known.")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Score to report from [default: the installation's].")
    ] = None,
    list_file: Annotated[
        Path | None,
        typer.Option("--list", help="Check against this file instead of the imported lists."),
    ] = None,
    list_format: Annotated[str, typer.Option(help="Format of --list: csl, sdn or ftm.")] = "csl",
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Would this name be caught? The candidate matches, their scores, the list entry
    each matched and why."""
    if list_file is not None:
        try:
            index = ScreeningIndex.build(load(list_file, list_format))
            matches = index.check(name, country=country, threshold=threshold or 0.70)
        except (ListFormatError, ValueError, OSError) as exc:
            raise fail(str(exc)) from None
    else:
        matches = with_caller(
            settings_for(data_dir),
            P.APPLICATIONS_READ,
            lambda s, c: s.screening.check(name, country, threshold),
        )
    if output is Output.JSON:
        print_json([m.document() for m in matches])
        return
    if not matches:
        console.print("No candidate matches.")
        return
    print_table(
        ("score", "matched", "entry", "list", "why"),
        [
            (
                f"{match.score:.2f}",
                match.matched_name,
                f"{match.entry.source}:{match.entry.entry_id}",
                match.entry.list_name,
                "; ".join(match.why),
            )
            for match in matches
        ],
    )


@screening_app.command("lists")
def lists(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """The imported snapshots."""
    snapshots = with_caller(
        settings_for(data_dir), P.APPLICATIONS_READ, lambda s, c: s.screening.snapshots()
    )
    if output is Output.JSON:
        print_json(snapshots)
        return
    print_table(
        ("id", "format", "file", "entries", "sha256", "imported"),
        [
            (
                str(snap["id"]),
                str(snap["format"]),
                str(snap["file_name"]),
                str(snap["entries"]),
                str(snap["sha256"]),
                str(snap["imported_at"]),
            )
            for snap in snapshots
        ],
    )


@screening_app.command("hits")
def hits(
    application: Annotated[str | None, typer.Option(help="Only this application's.")] = None,
    status: Annotated[str | None, typer.Option(help="open, true_match, false_positive")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Screening hits and how they were adjudicated."""
    found = with_caller(
        settings_for(data_dir),
        P.APPLICATIONS_READ,
        lambda s, c: s.screening.hits(application, status),
    )
    if output is Output.JSON:
        print_json([h.document() for h in found])
        return
    print_table(
        ("id", "application", "subject", "name", "matched", "score", "status"),
        [
            (
                hit.id,
                hit.application_id,
                hit.subject,
                hit.subject_name,
                hit.entry_name,
                f"{hit.score:.2f}",
                hit.status,
            )
            for hit in found
        ],
    )


@screening_app.command("adjudicate")
def adjudicate(
    hit: Annotated[str, typer.Argument(help="Hit id.")],
    decision: Annotated[str, typer.Option(help="true_match or false_positive.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
    data_dir: DataDir = None,
) -> None:
    """Decide a hit: a reviewer's call, recorded; never made automatically."""
    done = with_caller(
        settings_for(data_dir),
        P.APPLICATIONS_REVIEW,
        lambda s, c: s.screening.adjudicate(c.actor, hit, decision, reason),
    )
    console.print(f"Hit {done.id} adjudicated: {done.status}.")


@screening_app.command("alerts")
def alerts(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """Open alerts (new hits from re-screening)."""
    found = with_caller(
        settings_for(data_dir), P.APPLICATIONS_READ, lambda s, c: s.screening.alerts("open")
    )
    if output is Output.JSON:
        print_json([a.document() for a in found])
        return
    print_table(
        ("id", "raised", "severity", "application", "summary"),
        [(a.id, when(a.created_at), a.severity, a.application_id or "-", a.summary) for a in found],
    )


@terms_app.command("publish")
def publish(
    version: Annotated[str, typer.Argument(help="Version name, e.g. 2026-11.")],
    file: Annotated[Path, typer.Argument(help="The terms' text (UTF-8).", exists=True)],
    data_dir: DataDir = None,
) -> None:
    """Publish a version of the terms of access; officers accept the newest."""
    text = file.read_text(encoding="utf-8")
    terms = with_caller(
        settings_for(data_dir),
        P.POLICY_WRITE,
        lambda s, c: s.vetting_checks.publish_terms(c.actor, version, text),
    )
    console.print(f"Published terms {terms.version} (sha256 {terms.sha256}).")
