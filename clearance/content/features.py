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
WINDOW_WORDS = 128
"""A long text is also scored in windows of this many words (overlapping by
``OVERLAP_WORDS``), and each signal takes its highest score: padding a harmful request
with harmless words dilutes the whole text's score, not its window's."""
OVERLAP_WORDS = 32


def _fold(text: str) -> str:
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        # Accents off; invisible format characters (zero-width spaces, soft hyphens)
        # out, so "an\u200bthrax" reads as "anthrax".
        text = "".join(
            c for c in text if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
        )
    # Leetspeak inside words ("h0me", "r1cin") reads as letters; numbers stay numbers.
    text = _LEET_DIGIT.sub(lambda m: _LEET[m.group(0)], text)
    # "s.a.r.i.n" and "a n t h r a x" read as the words they spell.
    return _SPACED.sub(lambda m: _SPACERS.sub("", m.group(0)), text)


def words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def features(text: str) -> set[str]:
    """Every word, and every pair of adjacent words (``"first second"``)."""
    tokens = words(text)
    found = set(tokens)
    found.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    return found


def pieces(text: str) -> list[str]:
    """What is scored for ``text``: the text itself, and when it is longer than
    ``WINDOW_WORDS`` (split on white space) its overlapping windows too."""
    tokens = text.split()
    if len(tokens) <= WINDOW_WORDS:
        return [text]
    step = WINDOW_WORDS - OVERLAP_WORDS
    starts = range(0, len(tokens) - OVERLAP_WORDS, step)
    return [text, *(" ".join(tokens[i : i + WINDOW_WORDS]) for i in starts)]
