"""An optional second opinion on the deep stage's verdicts: a guard model that the
operator serves beside the restricted model behind an OpenAI-compatible endpoint
(vLLM, llama.cpp), set in ``monitor_judge``. It must answer as Llama Guard does:
``safe``, or ``unsafe`` and a line of category codes (``S2,S9``) — Llama Guard 3 and 4
do; models that need a policy prompt or answer otherwise (ShieldGemma, gpt-oss
safeguard) need an adapter in front of them.

The monitor sends it, after the deep stage, the texts of the events the deep stage
flagged and a ``share`` of the uncertain ones (nothing flagged, but some signal's score
at or above ``uncertain``), at most ``max_events`` a batch; the texts of models whose
retention is ``none`` only with ``retention_none: true``. Each text goes alone (its
first and last ``max_chars`` / 2 characters if longer), as one user message; nothing
else of the event. ``categories`` maps the judge's codes onto Clearance's signals; a
prohibited signal brings its domain along, and ``cbrn_prohibited`` stands for the
prohibited signal of whichever of bio, chem and radnuc the deep stage scored highest.

Both verdicts are recorded (``monitor_results.judge_verdict`` — ``safe``, or ``unsafe``
and the codes, never more of the answer — and ``judge_flagged``). What the detectors
then see is, with ``mode: add`` (the default), the deep stage's flags plus the judge's —
a judge can raise a flag, never clear one — or with ``mode: decide`` the judge's alone
for the events it judged. It fails safe: an event the judge refuses (4xx) or answers
unreadably keeps the deep stage's verdict; an outage — unreachable, 5xx, or no answers
for the batch within ``timeout`` seconds — leaves every event of the batch as the deep
stage saw it, the judge alone for ``retry_after`` seconds, and raises one operator
alert until it answers again. The monitor never waits on it longer than ``timeout``.
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
from clearance.content.signals import SIGNALS
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
    "S2": [],  # non-violent crimes
    "S3": ["other_harm"],  # sex-related crimes
    "S4": ["csam"],  # child sexual exploitation
    "S9": [CBRN],  # indiscriminate weapons
    "S10": ["other_harm"],  # hate
    "S11": ["other_harm"],  # suicide and self-harm
    "S14": ["cyber"],  # code interpreter abuse
    **{code: [] for code in ("S5", "S6", "S7", "S8", "S12", "S13")},
}
"""Llama Guard 3's codes. Some map to nothing by default: S2 (non-violent crimes)
mixes cyber crime with fraud and drugs, and as ``cyber`` would count against every
organization without a cyber entitlement; defamation, specialised advice, privacy,
intellectual property, sexual content and elections are not this program's concern.
A code the mapping does not name at all counts as ``other_harm``."""
_JUDGED = tuple(signal for signal in SIGNALS if signal != "jailbreak")


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
    max_events: int = 256
    max_chars: int = 16_000
    retry_after: float = 30.0
    categories: dict[str, list[str]] = field(default_factory=lambda: LLAMA_GUARD_CATEGORIES)


_KINDS: dict[str, tuple[type, ...]] = {
    "url": (str,), "model": (str,), "mode": (str,), "share": (int, float),
    "uncertain": (int, float), "timeout": (int, float), "concurrency": (int,),
    "max_events": (int,), "max_chars": (int,), "retry_after": (int, float),
    "retention_none": (bool,), "categories": (dict,),
}  # fmt: skip


def judge_settings(values: Mapping[str, Any] | None) -> JudgeSettings | None:
    """``monitor_judge`` checked: None when unset (no judge)."""
    if not values:
        return None
    if not isinstance(values, Mapping) or not {"url", "model"} <= set(values):
        raise InvalidInput(f"{SETTING} needs at least a url and a model", SETTING)
    for name, value in values.items():
        if name not in _KINDS:
            raise InvalidInput(f"{SETTING}: unknown setting {name!r}", f"{SETTING}.{name}")
        numeric = _KINDS[name][0] in (int, float)
        if not isinstance(value, _KINDS[name]) or (numeric and isinstance(value, bool)):
            raise InvalidInput(f"{SETTING}.{name} has the wrong type", f"{SETTING}.{name}")
    settings = JudgeSettings(**values)
    _check_url(settings.url)
    categories: dict[str, list[str]] = {}
    for code, targets in settings.categories.items():
        if not (isinstance(targets, list) and all(t in (*_JUDGED, CBRN) for t in targets)):
            raise InvalidInput(
                f"{SETTING}.categories.{code} must list signals ({', '.join(_JUDGED)}, {CBRN})",
                f"{SETTING}.categories",
            )
        categories[code.strip().upper()] = targets
    if settings.mode not in ("add", "decide"):
        raise InvalidInput(f"{SETTING}.mode must be add or decide", f"{SETTING}.mode")
    if not (0.0 <= settings.share <= 1.0 and 0.0 <= settings.uncertain <= 1.0):
        raise InvalidInput(f"{SETTING}: share and uncertain must be between 0 and 1", SETTING)
    if min(settings.concurrency, settings.max_events, settings.max_chars) < 1 or not (
        0 < settings.timeout <= 600 and settings.retry_after >= 0
    ):
        raise InvalidInput(f"{SETTING}: a count, timeout or retry_after out of range", SETTING)
    return replace(settings, categories=categories)


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError):
        parsed, port = None, None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput(f"{SETTING}.url must be an http(s) URL", f"{SETTING}.url")
    if port is not None and not 0 < port < 65536:
        raise InvalidInput(f"{SETTING}.url has no valid port", f"{SETTING}.url")


@dataclass(frozen=True)
class Failed:
    """No verdict for one event: why, and whether the judge itself is down."""

    reason: str
    outage: bool


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
        where = httpx.URL(settings.url)
        self._where = str(where.copy_with(username=None, password=None, query=None))
        self._down_until = 0.0
        self._alerted = False

    def wanted(self, request_id: str, verdict: Verdict, retention: str | None) -> bool:
        """Whether this event's text goes to the judge."""
        s = self._settings
        if retention == "none" and not s.retention_none:
            return False
        if verdict.flagged:
            return True
        if max((verdict.scores.get(name, 0.0) for name in _JUDGED), default=0.0) < s.uncertain:
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
        judge has just gone down."""
        if self._clock.monotonic() < self._down_until:
            return []
        chosen = [
            row.request_id
            for row in rows
            if row.request_id in verdicts
            and self.wanted(row.request_id, verdicts[row.request_id].verdict, self._mode(row))
        ][: self._settings.max_events]
        if not chosen:
            return []
        answers = await self._ask_all([texts[r] for r in chosen])
        if outage := next((a for a in answers if isinstance(a, Failed) and a.outage), None):
            return self._down(outage.reason)  # the whole batch as the deep stage saw it
        result_of = {result["request_id"]: result for result in results}
        for request_id, answer in zip(chosen, answers, strict=True):
            if isinstance(answer, Failed):
                log.warning("monitor_judge_no_verdict", request_id=request_id, why=answer.reason)
                continue
            deep = verdicts[request_id]
            codes, flagged = answer, self._signals(answer, deep.verdict)
            result = result_of[request_id]
            result["judge_verdict"] = ("unsafe " + ",".join(codes))[:200] if codes else "safe"
            result["judge_flagged"] = ",".join(flagged)[:128]
            verdicts[request_id] = replace(deep, verdict=self._combined(deep.verdict, flagged))
        self._alerted = False  # it answers again
        return []

    def _mode(self, row: Any) -> str | None:
        model = self._catalog.get(row.model) if row.model else None
        return model.retention.mode if model is not None else None

    async def _ask_all(self, texts: list[str]) -> list[list[str] | Failed]:
        """Every text's answer (its codes; none for safe), all within ``timeout``."""
        s = self._settings
        gate = asyncio.Semaphore(s.concurrency)
        async with httpx.AsyncClient(timeout=s.timeout) as client:

            async def one(text: str) -> list[str] | Failed:
                async with gate:
                    return await self._ask(client, text)

            tasks = [asyncio.ensure_future(one(text)) for text in texts]
            done, pending = await asyncio.wait(tasks, timeout=s.timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        late = Failed(f"no answer within {s.timeout:g} s", outage=True)
        return [task.result() if task in done else late for task in tasks]

    async def _ask(self, client: httpx.AsyncClient, text: str) -> list[str] | Failed:
        s = self._settings
        if len(text) > s.max_chars:  # the instruction is often at the end: keep both ends
            text = f"{text[: s.max_chars // 2]}\n…\n{text[-(s.max_chars // 2) :]}"
        body = {
            "model": s.model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 20,
            "temperature": 0,
        }
        try:
            response = await client.post(
                f"{s.url.rstrip('/')}/chat/completions", json=body, headers=self._headers
            )
        except Exception as exc:  # any failure to reach it: it is down, not this event
            return Failed(type(exc).__name__, outage=True)
        if response.status_code >= 500:
            return Failed(f"HTTP {response.status_code}", outage=True)
        if response.status_code != 200:  # it refused this one (too long, say)
            return Failed(f"HTTP {response.status_code}", outage=False)
        try:
            answer = response.json()["choices"][0]["message"]["content"]
            lines = [line.strip() for line in answer.strip().split("\n")]
        except Exception:
            return Failed("an answer without a message", outage=False)
        if lines[0].lower() == "safe":
            return []
        if lines[0].lower() != "unsafe":  # never logged or kept: it may echo the prompt
            return Failed(f"an answer that is neither safe nor unsafe ({len(answer)} chars)", False)
        codes = [c.strip().upper() for line in lines[1:2] for c in line.split(",") if c.strip()]
        return [code[:8] for code in codes][:16] or ["?"]

    def _signals(self, codes: list[str], verdict: Verdict) -> list[str]:
        """The Clearance signals the judge's codes map to (none for safe)."""
        signals: dict[str, None] = {}
        for code in codes:
            for target in self._settings.categories.get(code, []):
                resolved = self._resolve(target, verdict)
                if resolved.endswith("_prohibited"):  # its domain comes along
                    signals[resolved.removesuffix("_prohibited")] = None
                signals[resolved] = None
        if codes and not signals and not any(c in self._settings.categories for c in codes):
            signals["other_harm"] = None  # unsafe, in a category the mapping does not know
        return list(signals)

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

    def _down(self, reason: str) -> list[Finding]:
        self._down_until = self._clock.monotonic() + self._settings.retry_after
        log.error("monitor_judge_down", url=self._where, why=reason)
        if self._alerted:
            return []
        self._alerted = True
        return [
            Finding(
                detector=DETECTOR,
                severity=Severity.HIGH,
                org_id=None,
                summary=f"The guard-model judge is not answering ({reason}); the deep "
                "stage's verdicts stand alone until it does",
                evidence={"url": self._where, "reason": reason},
                at=self._clock.now(),
            )
        ]
