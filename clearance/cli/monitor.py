"""``clearance monitor …``: content screening from the command line.

``classify`` scores a file of texts with either stage, so operators can try
thresholds on their own data and the classifiers can be measured on their own. It
needs no installation: the models ship with Clearance.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import orjson
import typer

from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    console,
    fail,
    print_json,
    settings_for,
    with_caller,
)
from clearance.content.signals import DUAL_USE, PROHIBITED, STAGES

if TYPE_CHECKING:
    from clearance.content.classifier import Verdict

monitor_app = typer.Typer(
    help="Usage monitoring: content screening, the monitor, topic summaries.",
    no_args_is_help=True,
)

BATCH = 64
MAX_PROBLEMS = 10


def read_texts(source: TextIO, name: str) -> list[tuple[Any, str]]:
    """``(id, text)`` for each line of ``{"id": …, "text": …}``; blank lines are skipped.
    Every line is checked before anything is classified, and every problem (up to ten)
    is reported with its line number."""
    items: list[tuple[Any, str]] = []
    problems: list[str] = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(f"{name}:{number}: not JSON ({exc})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{name}:{number}: expected an object with 'id' and 'text'")
        elif not isinstance(row.get("id"), str | int) or isinstance(row.get("id"), bool):
            problems.append(f"{name}:{number}: 'id' must be a string or an integer")
        elif not isinstance(row.get("text"), str):
            problems.append(f"{name}:{number}: 'text' must be a string")
        else:
            items.append((row["id"], row["text"]))
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"… and {more} more"] if more > 0 else [])
        raise fail("nothing was classified:\n" + "\n".join(shown))
    return items


def _verdict_fields(verdict: Verdict) -> dict[str, Any]:
    flagged = verdict.flagged
    return {
        "scores": verdict.scores,
        "flagged": flagged,
        "dual_use": [name for name in flagged if name in DUAL_USE],
        "prohibited": [name for name in flagged if name in PROHIBITED],
    }


@monitor_app.command("classify")
def classify(
    file: Annotated[
        Path, typer.Argument(help='JSON lines {"id": …, "text": …}; "-" reads standard input.')
    ],
    stage: Annotated[
        str, typer.Option(help="deep (embeddings, the surer) or inline (the gateway's, fast).")
    ] = "deep",
    out: Annotated[
        Path | None, typer.Option(help="Write the results here instead of standard output.")
    ] = None,
) -> None:
    """Score each text per risk domain (cyber, bio, chem, radnuc, other_harm), for what
    no entitlement unlocks (cyber_prohibited, bio_prohibited, chem_prohibited,
    radnuc_prohibited, csam) and for jailbreak attempts; print one JSON line per text
    with its scores, the signals over their thresholds ("flagged"), and of those the
    dual-use domains ("dual_use") and the prohibited categories ("prohibited")."""
    if stage not in STAGES:
        raise fail(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}")
    # Imported here: the models' libraries would slow every other command's start.
    from clearance.content.classifier import ContentClassifier  # noqa: PLC0415
    from clearance.content.embedder import ModelUnavailable  # noqa: PLC0415
    from clearance.content.linear import ModelFileError  # noqa: PLC0415

    try:
        if str(file) == "-":
            items = read_texts(sys.stdin, "<stdin>")
        else:
            with file.open(encoding="utf-8") as source:
                items = read_texts(source, str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    try:
        classifier = ContentClassifier()
        lines: list[bytes] = []
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            texts = [text for _, text in batch]
            verdicts = classifier.deep(texts) if stage == "deep" else classifier.inline(texts)
            lines += [
                orjson.dumps({"id": id_, **_verdict_fields(v)})
                for (id_, _), v in zip(batch, verdicts, strict=True)
            ]
    except (ModelUnavailable, ModelFileError) as exc:
        raise fail(exc.message) from None
    data = b"".join(line + b"\n" for line in lines)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc}") from None


@monitor_app.command("status")
def status(data_dir: DataDir = None) -> None:
    """How many usage events wait for the monitor, which process holds its lease, and
    its counters."""
    from clearance.monitoring.progress import monitor_state  # noqa: PLC0415

    print_json(with_caller(settings_for(data_dir), P.CASES_READ, lambda s, c: monitor_state(s.db)))


@monitor_app.command("topics")
def topics(
    org: Annotated[str, typer.Argument(help="Organization name or id.")],
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    days: Annotated[float, typer.Option(min=0.001, max=366, help="Look back this far.")] = 30,
    min_size: Annotated[
        int, typer.Option(min=5, help="Smallest topic shown; smaller ones are only counted.")
    ] = 10,
    data_dir: DataDir = None,
) -> None:
    """What an organization's requests are about: topics with sizes and shared terms,
    never text."""
    from clearance.monitoring.summaries import topic_summary  # noqa: PLC0415
    from clearance.monitoring.topics import to_document  # noqa: PLC0415

    summary = with_caller(
        settings_for(data_dir),
        P.USAGE_READ,
        lambda s, c: topic_summary(
            s.db, org, model, s.clock.now() - timedelta(days=days), min_size
        ),
    )
    print_json(to_document(summary))


@monitor_app.command("purge")
def purge(data_dir: DataDir = None) -> None:
    """Delete retained content past its model's retention period, and the monitor's
    results older than topic_days, now (the server does it hourly)."""
    from clearance.container import purge_monitoring  # noqa: PLC0415

    removed = with_caller(
        settings_for(data_dir),
        P.MODELS_WRITE,  # housekeeping of the models' retention rules
        lambda s, c: purge_monitoring(s),
    )
    console.print(f"Purged {removed} row(s).")
