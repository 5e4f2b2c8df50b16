"""The two stages of content screening behind one interface.

* **inline** — the lexical model alone: pure Python and a little numpy, well under a
  millisecond for a typical prompt, on the gateway's hot path.
* **deep** — MiniLM sentence embeddings plus the lexical features, batched; for the
  ``clearance monitor classify`` (its default) and the asynchronous monitor.

Either way a long text is scored whole and in overlapping windows, and each signal
takes its highest score (``features.pieces``).

The embedding model loads on first use of the deep stage (about a second), so a
gateway that never runs it never pays for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clearance.content import features
from clearance.content.embedder import MODEL_DIR
from clearance.content.linear import HEADS, LinearModel
from clearance.content.signals import Scores, Stage, flagged

if TYPE_CHECKING:
    from clearance.content.embedder import Embedder


@dataclass(frozen=True)
class Verdict:
    scores: Scores
    flagged: list[str]
    """The signals over their thresholds."""


def strongest(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict for texts judged together (a request's parts): per signal the
    highest score, and every signal any of them flagged."""
    if len(verdicts) == 1:
        return verdicts[0]
    scores: Scores = {}
    flags: dict[str, None] = {}
    for verdict in verdicts:
        for name, value in verdict.scores.items():
            if value > scores.get(name, -1.0):
                scores[name] = value
        flags.update(dict.fromkeys(verdict.flagged))
    return Verdict(scores, list(flags))


class ContentClassifier:
    def __init__(self, directory: Path = MODEL_DIR) -> None:
        self._directory = directory
        self._inline: LinearModel | None = None
        self._deep: tuple[Embedder, LinearModel] | None = None
        self._loading = threading.Lock()
        self._weights: np.ndarray | None = None

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
                threads = min(4, os.cpu_count() or 1)  # never on the gateway's event loop
                self._deep = (Embedder(threads), LinearModel.load(self._directory / "deep.npz"))
            return self._deep

    def inline(self, texts: Sequence[str]) -> list[Verdict]:
        if not texts:
            return []
        model = self.inline_model
        owners, all_pieces = _pieces(texts)
        return _verdicts(len(texts), owners, model.scores(all_pieces), model.thresholds)

    def deep(self, texts: Sequence[str]) -> list[Verdict]:
        return self.deep_with_embeddings(texts)[0]

    def deep_with_embeddings(self, texts: Sequence[str]) -> tuple[list[Verdict], np.ndarray]:
        """The deep verdicts, and each text's embedding (its pieces' mean, unit length;
        for topic summaries)."""
        if not texts:
            return [], np.zeros((0, 0), dtype=np.float32)
        embedder, model = self._deep_parts()
        owners, all_pieces = _pieces(texts)
        vectors = embedder.embed(all_pieces)
        scores = model.scores(all_pieces, vectors)
        sums = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        np.add.at(sums, np.asarray(owners), vectors)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return _verdicts(len(texts), owners, scores, model.thresholds), sums / np.maximum(
            norms, 1e-12
        )

    def terms(self, text: str, limit: int = 8) -> list[str]:
        """Up to ``limit`` of the text's words that the lexical model knows and weighs
        most by topic — what topic summaries label clusters with, instead of text."""
        model = self.inline_model
        weights = self._term_weights(model)
        known = {w for w in features.words(text) if len(w) >= 4 and w in model.vocabulary}
        return sorted(known, key=lambda w: (-weights[model.vocabulary[w]], w))[:limit]

    def _term_weights(self, model: LinearModel) -> np.ndarray:
        if self._weights is None:
            topics = [i for i, head in enumerate(HEADS) if head.startswith("topic:")]
            self._weights = np.abs(model.lexical[:, topics]).max(axis=1)
        return self._weights

    def classify(self, texts: Sequence[str], stage: Stage) -> list[Verdict]:
        return self.inline(texts) if stage == "inline" else self.deep(texts)


def _pieces(texts: Sequence[str]) -> tuple[list[int], list[str]]:
    owners: list[int] = []
    found: list[str] = []
    for index, text in enumerate(texts):
        for piece in features.pieces(text):
            owners.append(index)
            found.append(piece)
    return owners, found


def _verdicts(
    count: int, owners: list[int], scores: list[Scores], thresholds: dict[str, float]
) -> list[Verdict]:
    """Each text's verdict: per signal, the highest score among its pieces."""
    if count == 1 and len(scores) == 1:  # one short text: its one piece's scores
        return [Verdict(scores[0], flagged(scores[0], thresholds))]
    best: list[Scores] = [{} for _ in range(count)]
    for owner, score in zip(owners, scores, strict=True):
        mine = best[owner]
        for name, value in score.items():
            if value > mine.get(name, -1.0):
                mine[name] = value
    return [Verdict(s, flagged(s, thresholds)) for s in best]
