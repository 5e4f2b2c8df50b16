"""An optional second opinion on the deep stage's verdicts: a guard model (Llama Guard,
ShieldGemma, a gpt-oss safeguard model) that the operator serves beside the restricted
model behind an OpenAI-compatible endpoint (vLLM, llama.cpp), set in ``monitor_judge``.

The monitor sends it, after the deep stage, the texts of the events the deep stage
flagged and a ``share`` of the uncertain ones (no signal flagged, but some risk score
at or above ``uncertain``); the texts of models whose retention is ``none`` only with
``retention_none: true``. Each text goes alone, as one user message; nothing else of
the event (no organization, key or address). The judge answers as Llama Guard does —
``safe``, or ``unsafe`` and a line of category codes (``S2,S9``) — and ``categories``
maps its codes onto Clearance's signals; ``S9`` (indiscriminate weapons) maps to
``cbrn_prohibited``, read as the prohibited signal of whichever of bio, chem and radnuc
the deep stage scored highest.

Both verdicts are recorded (``monitor_results.judge_verdict`` and ``judge_flagged``);
what the detectors then see is, with ``mode: add`` (the default), the deep stage's
flags plus the judge's — a judge can raise a flag, never clear one — or with ``mode:
decide`` the judge's alone for the events it judged. It fails safe: an event whose
call fails (unreachable, too slow, an answer it cannot read) keeps the deep stage's
verdict; the judge is then left alone for ``retry_after`` seconds, and an operator
alert is raised once per outage.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import structlog

from clearance.clock import Clock
from clearance.content.classifier import Verdict
from clearance.content.signals import DUAL_USE
from clearance.errors import InvalidInput
from clearance.monitoring.detectors.base import Finding, Severity
from clearance.monitoring.models import Verdicts
from clearance.registry.services import ModelCatalog

log = structlog.get_logger(__name__)

SETTING = "monitor_judge"
DETECTOR = "monitor_judge"
CBRN = "cbrn_prohibited"
"""A target of ``categories``: the prohibited signal of the CBRN domain scored highest."""
LLAMA_GUARD_CATEGORIES: dict[str, list[str]] = {
    "S1": ["other_harm"],  # violent crimes
    "S2": ["cyber"],  # non-violent crimes, cyber crime among them
    "S3": ["other_harm"],  # sex-related crimes
    "S4": ["csam"],  # child sexual exploitation
    "S9": [CBRN],  # indiscriminate weapons
    "S10": ["other_harm"],  # hate
    "S11": ["other_harm"],  # suicide and self-harm
    "S14": ["cyber"],  # code interpreter abuse
}
"""Llama Guard 3's codes; the others (defamation, specialised advice, privacy,
intellectual property, sexual content, elections) map to nothing by default."""


@dataclass(frozen=True)
class JudgeSettings:
    url: str
    """The endpoint's base URL, e.g. ``http://127.0.0.1:8001/v1``."""
    model: str
    share: float = 1.0
    uncertain: float = 0.2
    mode: str = "add"
    retention_none: bool = False
    timeout: float = 10.0
    concurrency: int = 8
    retry_after: float = 30.0
    categories: dict[str, list[str]] = field(default_factory=lambda: LLAMA_GUARD_CATEGORIES)


def judge_settings(values: Mapping[str, Any] | None) -> JudgeSettings | None:
    """``monitor_judge`` checked: None when unset (no judge)."""
    if not values:
        return None
    if not isinstance(values, Mapping) or not {"url", "model"} <= set(values):
        raise InvalidInput(f"{SETTING} needs at least a url and a model", SETTING)
    known = set(JudgeSettings.__dataclass_fields__)
    for name in values:
        if name not in known:
            raise InvalidInput(f"{SETTING}: unknown setting {name!r}", f"{SETTING}.{name}")
    kinds: dict[str, tuple[type, ...]] = {
        "url": (str,), "model": (str,), "mode": (str,),
        "share": (int, float), "uncertain": (int, float), "timeout": (int, float),
        "concurrency": (int,), "retry_after": (int, float), "retention_none": (bool,),
        "categories": (dict,),
    }  # fmt: skip
    for name, value in values.items():
        numeric = kinds[name][0] in (int, float)
        if not isinstance(value, kinds[name]) or (numeric and isinstance(value, bool)):
            raise InvalidInput(f"{SETTING}.{name} has the wrong type", f"{SETTING}.{name}")
    settings = JudgeSettings(**values)
    for code, targets in settings.categories.items():
        if not (isinstance(targets, list) and all(isinstance(t, str) for t in targets)):
            raise InvalidInput(f"{SETTING}.categories.{code} must list signal names", SETTING)
    if settings.mode not in ("add", "decide"):
        raise InvalidInput(f"{SETTING}.mode must be add or decide", f"{SETTING}.mode")
    if not 0.0 <= settings.share <= 1.0:
        raise InvalidInput(f"{SETTING}.share must be between 0 and 1", f"{SETTING}.share")
    if not (settings.timeout > 0 and settings.concurrency >= 1 and settings.retry_after >= 0):
        raise InvalidInput(f"{SETTING}: timeout, concurrency, retry_after out of range", SETTING)
    return settings


class JudgeFailed(Exception):
    pass


class Judge:
    def __init__(
        self,
        settings: JudgeSettings,
        clock: Clock,
        catalog: ModelCatalog,
        api_key: str | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._catalog = catalog
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._down_until = 0.0
        self._alerted = False
        self._gate = asyncio.Semaphore(settings.concurrency)
        self.judged = 0
        self.failed = 0

    def wanted(self, request_id: str, verdict: Verdict, retention: str | None) -> bool:
        """Whether this event's text goes to the judge."""
        s = self._settings
        if retention == "none" and not s.retention_none:
            return False
        if verdict.flagged:
            return True
        if max((verdict.scores.get(d, 0.0) for d in (*DUAL_USE, "other_harm")), default=0.0) < (
            s.uncertain
        ):
            return False
        digest = hashlib.sha256(request_id.encode()).digest()
        return int.from_bytes(digest[:4], "big") < s.share * 2**32  # the same on every run

    async def review(
        self,
        rows: Sequence[Any],
        texts: Mapping[str, str],
        verdicts: Verdicts,
        results: list[dict[str, Any]],
    ) -> list[Finding]:
        """Judge the wanted events of a batch (usage ``rows``, the deep stage's
        ``verdicts`` on their ``texts``): their result rows get the judge's verdict, and
        ``verdicts`` what the detectors are to see. Returns the health finding, if the
        judge has just started failing."""
        if self._clock.monotonic() < self._down_until:
            return []
        chosen = [
            row.request_id
            for row in rows
            if row.request_id in verdicts
            and self.wanted(row.request_id, verdicts[row.request_id].verdict, self._mode(row))
        ]
        if not chosen:
            return []
        async with httpx.AsyncClient(timeout=self._settings.timeout) as client:
            answers = await asyncio.gather(*(self._ask(client, texts[r]) for r in chosen))
        result_of = {result["request_id"]: result for result in results}
        failure: str | None = None
        for request_id, answer in zip(chosen, answers, strict=True):
            if isinstance(answer, JudgeFailed):
                failure = str(answer)
                self.failed += 1
                continue
            deep = verdicts[request_id]
            flagged = self._signals(answer, deep.verdict)
            result_of[request_id]["judge_verdict"] = " ".join(answer.split())[:200]
            result_of[request_id]["judge_flagged"] = ",".join(flagged)
            verdicts[request_id] = replace(deep, verdict=self._combined(deep.verdict, flagged))
            self.judged += 1
        return self._health(failure)

    def _mode(self, row: Any) -> str | None:
        model = self._catalog.get(row.model) if row.model else None
        return model.retention.mode if model is not None else None

    async def _ask(self, client: httpx.AsyncClient, text: str) -> str | JudgeFailed:
        s = self._settings
        body = {
            "model": s.model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 20,
            "temperature": 0,
        }
        async with self._gate:
            try:
                response = await client.post(
                    f"{s.url.rstrip('/')}/chat/completions", json=body, headers=self._headers
                )
                response.raise_for_status()
                answer = response.json()["choices"][0]["message"]["content"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                return JudgeFailed(f"{type(exc).__name__}: {exc}"[:300])
        if not isinstance(answer, str) or answer.strip().split("\n")[0].strip().lower() not in (
            "safe",
            "unsafe",
        ):
            return JudgeFailed(f"an answer that is neither safe nor unsafe: {answer!r:.100}")
        return answer.strip()

    def _signals(self, answer: str, verdict: Verdict) -> list[str]:
        """The Clearance signals the judge's answer maps to (none for safe)."""
        lines = answer.split("\n")
        if lines[0].strip().lower() == "safe":
            return []
        codes = [c.strip().upper() for line in lines[1:] for c in line.split(",") if c.strip()]
        signals: dict[str, None] = {}
        for code in codes:
            for target in self._settings.categories.get(code, []):
                signals[self._resolve(target, verdict)] = None
        return list(signals) or ["other_harm"]  # unsafe, in a category not mapped

    @staticmethod
    def _resolve(target: str, verdict: Verdict) -> str:
        if target != CBRN:
            return target
        domain = max(("bio", "chem", "radnuc"), key=lambda d: verdict.scores.get(d, 0.0))
        return f"{domain}_prohibited"

    def _combined(self, verdict: Verdict, flagged: list[str]) -> Verdict:
        if self._settings.mode == "decide":
            return Verdict(verdict.scores, flagged)
        return Verdict(verdict.scores, list(dict.fromkeys([*verdict.flagged, *flagged])))

    def _health(self, failure: str | None) -> list[Finding]:
        if failure is None:
            self._alerted = False
            return []
        self._down_until = self._clock.monotonic() + self._settings.retry_after
        log.error("monitor_judge_failed", error=failure, retry_in=self._settings.retry_after)
        if self._alerted:
            return []
        self._alerted = True
        return [
            Finding(
                detector=DETECTOR,
                severity=Severity.HIGH,
                org_id=None,
                summary=f"The guard-model judge is failing ({failure}); the deep stage's "
                "verdicts stand alone until it answers again",
                evidence={"url": self._settings.url, "error": failure},
                at=self._clock.now(),
            )
        ]
