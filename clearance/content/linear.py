"""Linear heads over the lexical features (normalised to unit length) and, for the
deep stage, the sentence embedding too — logistic regressions, one per:

* **direct** head per signal: "asks for serious harm in this domain", "asks for
  something prohibited in it" (``bio_prohibited``…), "asks for CSAM" (or "is a
  jailbreak");
* **topic** head per domain: "is about this domain", harmful or not;
* **intent** head: "asks for serious harm", whatever the domain;
* **severity** head: "asks for something no one may be given" (weaponization, mass
  casualties, attacks on critical infrastructure, CSAM), whatever the domain.

A domain's score is the geometric mean of its direct head, its topic head and the
intent head; a prohibited signal's, of its direct head, its domain's topic head and
the severity head; ``csam``'s, of its direct head and the severity head. Topic, intent
and severity are each learnt from every domain's examples, harmful and benign alike,
so "culture anthrax to release it" (topic bio, harmful intent) separates from "how was
the anthrax vaccine developed" (topic bio, benign intent) — and "release it over a
city" (severity) from "the strain's virulence factors, for our vaccine work" — better
than one head per signal manages on its own. The jailbreak score is its direct head.

A model is one ``.npz`` file written by ``scripts/build_classifiers.py``: the
vocabulary, each feature's weight in each head, the embedding weights (deep stage
only), the biases and each signal's threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clearance.content import features
from clearance.content.signals import DOMAINS, SEVERE, SIGNALS, Scores
from clearance.errors import ClearanceError

HEADS = (*SIGNALS, *(f"topic:{d}" for d in DOMAINS), "intent", "severity")


def _parts(signal: str) -> tuple[int, ...]:
    """The heads whose geometric mean is ``signal``'s score."""
    if signal in DOMAINS:
        return HEADS.index(signal), HEADS.index(f"topic:{signal}"), HEADS.index("intent")
    if signal in SEVERE:
        domain = signal.removesuffix("_prohibited")
        return HEADS.index(signal), HEADS.index(f"topic:{domain}"), HEADS.index("severity")
    if signal == "csam":
        return HEADS.index(signal), HEADS.index("severity")
    return (HEADS.index(signal),)


PARTS = tuple(_parts(signal) for signal in SIGNALS)
"""Per signal (in ``SIGNALS`` order), the heads its score combines."""


class ModelFileError(ClearanceError):
    """A model file is missing or not in the expected shape."""


@dataclass(frozen=True)
class LinearModel:
    vocabulary: dict[str, int]
    lexical: np.ndarray
    """Vocabulary size x heads."""
    dense: np.ndarray | None
    """Embedding dimensions x heads (deep stage), or None (inline stage)."""
    bias: np.ndarray
    thresholds: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                names = [str(n) for n in data["heads"]]
                vocabulary = [str(v) for v in data["vocabulary"]]
                lexical = np.asarray(data["lexical"], dtype=np.float32)
                dense = np.asarray(data["dense"], dtype=np.float32) if "dense" in data else None
                bias = np.asarray(data["bias"], dtype=np.float32)
                thresholds = [float(t) for t in data["thresholds"]]
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"cannot load the classifier {path}: {exc}") from exc
        if names != list(HEADS) or lexical.shape != (len(vocabulary), len(HEADS)):
            raise ModelFileError(f"{path} does not have the heads {', '.join(HEADS)}")
        return cls(
            vocabulary={word: i for i, word in enumerate(vocabulary)},
            lexical=lexical,
            dense=dense,
            bias=bias,
            thresholds=dict(zip(SIGNALS, thresholds, strict=True)),
        )

    def _rows(self, text: str) -> list[int]:
        vocabulary = self.vocabulary
        return [i for f in features.features(text) if (i := vocabulary.get(f)) is not None]

    def lexical_logits(self, text: str) -> np.ndarray:
        rows = self._rows(text)
        if not rows:
            return np.zeros(len(HEADS))
        # Summed in the weights' float32, scaled and scored in float64 (as ``_one`` does).
        summed = self.lexical.take(rows, axis=0).sum(axis=0).astype(np.float64)
        total: np.ndarray = summed / math.sqrt(len(rows))
        return total

    def scores(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> list[Scores]:
        if len(texts) == 1 and self.dense is None:
            return [self._one(texts[0])]
        logits = np.stack([self.lexical_logits(t) for t in texts]) + self.bias
        if self.dense is not None:
            if embeddings is None:
                raise ValueError("this model needs the texts' embeddings")
            logits = logits + embeddings @ self.dense
        heads = 1.0 / (1.0 + np.exp(-logits))
        scores = combine(heads).tolist()
        return [{name: round(p, 4) for name, p in zip(SIGNALS, row, strict=True)} for row in scores]

    def _one(self, text: str) -> Scores:
        """The gateway's case, one short text: the same arithmetic as :meth:`scores` in
        plain floats once the features are summed — a dozen array operations on
        a dozen numbers cost more than the arithmetic itself."""
        rows = self._rows(text)
        if rows:
            sums = self.lexical.take(rows, axis=0).sum(axis=0).tolist()
            root = math.sqrt(len(rows))
        else:
            sums, root = [0.0] * len(HEADS), 1.0
        bias = self.bias.tolist()
        heads = [_sigmoid(total / root + b) for total, b in zip(sums, bias, strict=True)]
        return {
            name: round(_mean(heads, parts), 4) for name, parts in zip(SIGNALS, PARTS, strict=True)
        }


def _mean(heads: list[float], parts: tuple[int, ...]) -> float:
    if len(parts) == 3:
        return math.cbrt(heads[parts[0]] * heads[parts[1]] * heads[parts[2]])
    if len(parts) == 2:
        return math.sqrt(heads[parts[0]] * heads[parts[1]])
    return heads[parts[0]]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def combine(heads: np.ndarray) -> np.ndarray:
    """Signal scores (texts x signals) from head probabilities (texts x heads)."""
    scores = np.empty((heads.shape[0], len(SIGNALS)))
    for s, parts in enumerate(PARTS):
        product = np.prod(heads[:, parts], axis=1)
        roots = {1: product, 2: np.sqrt(product), 3: np.cbrt(product)}
        scores[:, s] = roots[len(parts)]
    return scores
