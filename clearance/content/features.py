"""The lexical features both stages read: words and word pairs, after folding case,
accents and the usual obfuscations (leetspeak digits, letters spaced or dotted out).

Training (``scripts/build_classifiers.py``) and scoring use this one function, so a
model always sees the features it was trained on.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")
_LEET_DIGIT = re.compile(r"(?<=[a-z])[013457@$]|[013457@$](?=[a-z])")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_SPACERS = re.compile(r"[ .\-_*]")
MAX_WORDS = 2048
"""Words read per text by the inline stage: beyond this a text is judged on its first
``MAX_WORDS`` words inline, and on all of them by the deep stage."""


def _fold(text: str) -> str:
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    # Leetspeak inside words ("h0me", "r1cin") reads as letters; numbers stay numbers.
    text = _LEET_DIGIT.sub(lambda m: _LEET[m.group(0)], text)
    # "s.a.r.i.n" and "a n t h r a x" read as the words they spell.
    return _SPACED.sub(lambda m: _SPACERS.sub("", m.group(0)), text)


def words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))[:MAX_WORDS]


def features(text: str) -> set[str]:
    """Every word, and every pair of adjacent words (``"first second"``)."""
    tokens = words(text)
    found = set(tokens)
    found.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    return found
