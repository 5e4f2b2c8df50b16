"""Policy files: splitting them into statements, and compiling a set with errors that
name the file and line.

Cedar's parser reports *what* is wrong but not *where*, so each file is split into its
statements here (a ``;`` outside strings and comments ends one) and each statement is
parsed alone: the first that fails is the one to point at. Policy ids that validation
and evaluation report (``policy0``, ``policy1``…) are statement numbers in the
concatenated set, mapped back the same way.

Every policy must carry ``@id("…")`` (unique); a ``forbid`` may carry
``@code("…")``, the machine code a refusal by it reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import cedarpy

from clearance.content.signals import SIGNALS
from clearance.policy.categories import categories_named

CODES = (
    "prohibited_content",
    "jurisdiction_blocked",
    "end_user_suspended",
    "purpose_not_entitled",
    "access_denied",
)
"""The machine codes a forbid may report, most serious first: a denial reports the
first of its deciding policies' codes in this order."""


class PolicyError(ValueError):
    """A policy set that cannot be used; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Statement:
    file: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PolicyMeta:
    id: str
    """The policy's ``@id``."""
    code: str | None
    effect: str
    where: str


@dataclass(frozen=True)
class CompiledPolicies:
    policy_set: cedarpy.PolicySet
    meta: dict[str, PolicyMeta]
    """By Cedar's generated id (``policy0``…)."""
    files: dict[str, str]
    digest: str
    """SHA-256 over the files (name and text, in name order)."""


def split(file: str, text: str) -> list[Statement]:
    statements: list[Statement] = []
    start: int | None = None
    start_line = line = 1
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\n":
            line += 1
        elif text.startswith("//", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        elif char == '"':
            if start is None:
                start, start_line = index, line
            index += 1
            while index < len(text) and text[index] != '"':
                if text[index] == "\\":
                    index += 1
                elif text[index] == "\n":
                    line += 1
                index += 1
        elif char == ";" and start is not None:
            statements.append(Statement(file, start_line, text[start : index + 1]))
            start = None
        elif not char.isspace() and start is None:
            start, start_line = index, line
        index += 1
    if start is not None:  # no closing ';': let the parser say what is missing
        statements.append(Statement(file, start_line, text[start:]))
    return statements


def _meta(statement: Statement) -> PolicyMeta:
    try:
        cedarpy.PolicySet.from_str(statement.text)
        parsed = cedarpy.policies_to_pst(statement.text)
    except ValueError as exc:
        raise PolicyError(f"{statement.where}: {exc}") from None
    (template,) = parsed.static_policies.values()
    annotations = dict(template.annotations)
    policy_id = annotations.get("id")
    if not policy_id:
        raise PolicyError(f'{statement.where}: every policy needs an @id("…") annotation')
    code = annotations.get("code")
    if code is not None and code not in CODES:
        raise PolicyError(f"{statement.where}: @code must be one of {', '.join(CODES)}")
    return PolicyMeta(policy_id, code, template.effect, statement.where)


def compile_policies(files: Mapping[str, str], schema: cedarpy.Schema) -> CompiledPolicies:
    """Parse and validate ``files`` (name -> Cedar text) against ``schema``."""
    statements = [s for name in sorted(files) for s in split(name, files[name])]
    if not statements:
        raise PolicyError("the policy set is empty: nothing would ever be allowed")
    metas = [_meta(statement) for statement in statements]
    seen: dict[str, str] = {}
    for meta in metas:
        if meta.id in seen:
            raise PolicyError(f"{meta.where}: @id {meta.id!r} is already used at {seen[meta.id]}")
        seen[meta.id] = meta.where
    text = "\n".join(s.text for s in statements)
    by_cedar_id = {f"policy{n}": meta for n, meta in enumerate(metas)}
    result = cedarpy.validate_policies(text, schema)
    if not result.validation_passed:
        problems = [
            f"{by_cedar_id[e.policy_id].where} ({by_cedar_id[e.policy_id].id}): {e.error}"
            if e.policy_id in by_cedar_id
            else e.error
            for e in result.errors
        ]
        raise PolicyError("; ".join(problems))
    where = {meta.id: meta.where for meta in metas}
    for policy_id, named in categories_named(text).items():
        if unknown := sorted(named - set(SIGNALS)):
            raise PolicyError(
                f"{where.get(policy_id, '?')} ({policy_id}): no screening stage emits the "
                f"content categories {', '.join(unknown)}, so this policy would never see "
                f"them (the categories: {', '.join(SIGNALS)})"
            )
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return CompiledPolicies(
        policy_set=cedarpy.PolicySet.from_str(text),
        meta=by_cedar_id,
        files=dict(files),
        digest=digest.hexdigest(),
    )
