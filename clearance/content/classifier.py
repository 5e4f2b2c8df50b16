"""The two stages of content screening behind one interface.

* **inline** — the lexical model alone: pure Python and a little numpy, well under a
  millisecond for a typical prompt, on the gateway's hot path.
* **deep** — MiniLM sentence embeddings plus the lexical features, batched; for the
  asynchronous monitor and for ``clearance monitor classify --stage deep``.

The embedding model loads on first use of the deep stage (about a second), so a
gateway that never runs it never pays for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from clearance.content.embedder import MODEL_DIR
from clearance.content.linear import LinearModel
from clearance.content.signals import Scores, flagged

if TYPE_CHECKING:
    from clearance.content.embedder import Embedder

Stage = Literal["inline", "deep"]
STAGES: tuple[Stage, ...] = ("inline", "deep")


@dataclass(frozen=True)
class Verdict:
    scores: Scores
    flagged: list[str]
    """The signals over their thresholds."""


class ContentClassifier:
    def __init__(self, directory: Path = MODEL_DIR) -> None:
        self._directory = directory
        self._inline: LinearModel | None = None
        self._deep: tuple[Embedder, LinearModel] | None = None
        self._loading = threading.Lock()

    @property
    def inline_model(self) -> LinearModel:
        """Loaded on first use (the server loads it at start)."""
        if self._inline is None:
            with self._loading:
                if self._inline is None:
                    self._inline = LinearModel.load(self._directory / "inline.npz")
        return self._inline

    def _deep_parts(self) -> tuple[Embedder, LinearModel]:
        from clearance.content.embedder import Embedder  # noqa: PLC0415

        with self._loading:
            if self._deep is None:
                self._deep = (Embedder(), LinearModel.load(self._directory / "deep.npz"))
            return self._deep

    def inline(self, texts: Sequence[str]) -> list[Verdict]:
        if not texts:
            return []
        model = self.inline_model
        return [Verdict(s, flagged(s, model.thresholds)) for s in model.scores(texts)]

    def deep(self, texts: Sequence[str]) -> list[Verdict]:
        if not texts:
            return []
        embedder, model = self._deep_parts()
        scores = model.scores(texts, embedder.embed(texts))
        return [Verdict(s, flagged(s, model.thresholds)) for s in scores]

    def classify(self, texts: Sequence[str], stage: Stage) -> list[Verdict]:
        return self.inline(texts) if stage == "inline" else self.deep(texts)
