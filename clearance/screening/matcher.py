"""Screen names against list entries: ``ScreeningIndex.build(entries).check(name)``.

Every name and alias is normalised once, when the index is built. A query is first
narrowed to a few dozen candidate names through an inverted index of blocking keys
(tokens, adjacent tokens joined, 4-letter prefixes, consonant skeletons), weighted by
rarity; only those candidates are scored (`clearance.screening.scoring`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from rapidfuzz import fuzz, process

from clearance.screening.countries import country_code
from clearance.screening.entries import ENTRY_KINDS, ListEntry
from clearance.screening.explain import name_reasons
from clearance.screening.normalize import NormalizedName, normalize
from clearance.screening.scoring import (
    CONSONANT_FACTOR,
    TOKEN_MATCH_MIN,
    Alignment,
    Candidate,
    Prepared,
    align,
    prepare,
    upper_bound,
)

DEFAULT_THRESHOLD: Final = 0.70
"""Matches scoring below this (0..1) are not reported unless the caller asks."""
MAX_CANDIDATES: Final = 64
"""How many candidate names, best blocking score first, each query scores in full."""
MAX_POSTING: Final = 500
"""Blocking keys shared by more names than this are too common to narrow anything."""
COUNTRY_BOOST: Final = 0.03
KIND_PENALTY: Final = 0.15


@dataclass(frozen=True, slots=True)
class Match:
    """One listed party a query may be: ``score`` in [0, 1], the name or alias of the
    entry that matched best, the normalised forms compared and the reasons."""

    entry: ListEntry
    score: float
    matched_name: str
    query_normalized: str
    matched_normalized: str
    why: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        """What the CLI and the admin API show of a match."""
        return {
            "score": round(self.score, 4),
            "entry": f"{self.entry.source}:{self.entry.entry_id}",
            "name": self.entry.name,
            "matched_name": self.matched_name,
            "kind": self.entry.kind,
            "countries": list(self.entry.countries),
            "list": self.entry.list_name,
            "programs": list(self.entry.programs),
            "why": list(self.why),
        }


@dataclass(frozen=True, slots=True)
class _Name:
    entry: int
    position: int  # 0 for the entry's name, n for its n-th alias
    text: str
    prepared: Prepared


class ScreeningIndex:
    """An immutable index over list entries. Build it with `ScreeningIndex.build`."""

    def __init__(
        self,
        entries: tuple[ListEntry, ...],
        names: list[_Name],
        weights: dict[str, float],
        postings: dict[str, tuple[int, ...]],
    ) -> None:
        self._entries = entries
        self._names = names
        self._weights = weights
        self._default_weight = 1.0 + math.log(max(len(names), 1))
        self._postings = postings
        self._key_weights = {k: math.log((len(names) + 1) / len(v)) for k, v in postings.items()}

    @classmethod
    def build(cls, entries: Iterable[ListEntry]) -> ScreeningIndex:
        all_entries = tuple(entries)
        normalized: list[tuple[int, int, str, NormalizedName]] = []
        for e, entry in enumerate(all_entries):
            seen: set[str] = set()
            for position, text in enumerate(entry.names):
                try:
                    norm = normalize(text)
                except ValueError:
                    continue  # a name without letters or digits cannot be matched
                if norm.comparison not in seen:
                    seen.add(norm.comparison)
                    normalized.append((e, position, text, norm))
        frequency: dict[str, int] = {}
        for *_, norm in normalized:
            for token in set(norm.tokens):
                frequency[token] = frequency.get(token, 0) + 1
        count = max(len(normalized), 1)
        weights = {t: 1.0 + math.log(count / n) for t, n in frequency.items()}
        default = 1.0 + math.log(count)
        names = [
            _Name(e, position, text, prepare(norm, weights, default))
            for e, position, text, norm in normalized
        ]
        postings: dict[str, list[int]] = {}
        for number, name in enumerate(names):
            for key in blocking_keys(name.prepared):
                postings.setdefault(key, []).append(number)
        return cls(all_entries, names, weights, {k: tuple(v) for k, v in postings.items()})

    @property
    def entries(self) -> tuple[ListEntry, ...]:
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def check(
        self,
        name: str,
        *,
        country: str | None = None,
        kind: str | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        limit: int = 10,
    ) -> list[Match]:
        """The entries ``name`` may be, best first, scoring at least ``threshold``.

        ``country`` (a code or a country name) and ``kind`` ("person",
        "organization", ...) are optional hints: an entry in that country scores a
        little higher, an entry of a different kind markedly lower. Raises ValueError
        for an empty or punctuation-only name, an unknown country or kind, or a
        threshold outside [0, 1].
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if kind is not None and kind not in ENTRY_KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(ENTRY_KINDS)}")
        code = None
        if country is not None:
            code = country_code(country)
            if code is None:
                raise ValueError(f"unknown country {country!r}")
        query = prepare(normalize(name), self._weights, self._default_weight)
        best: dict[int, tuple[float, _Name, Alignment]] = {}
        boost = COUNTRY_BOOST if code is not None else 0.0
        for number, alignment in self._score(query, threshold - boost):
            candidate = self._names[number]
            previous = best.get(candidate.entry)
            if previous is None or (alignment.score, -candidate.position) > (
                previous[0],
                -previous[1].position,
            ):
                best[candidate.entry] = (alignment.score, candidate, alignment)
        results: list[tuple[float, list[str], _Name, Alignment]] = []
        for e, (score, candidate, alignment) in best.items():
            if score + boost < threshold:
                continue
            final, notes = _adjust(self._entries[e], score, code, kind)
            if final >= threshold:
                results.append((final, notes, candidate, alignment))
        results.sort(key=lambda r: (-r[0], self._entries[r[2].entry].source, r[2].entry))
        return [self._match(query, *result) for result in results[:limit]]

    def candidates(self, name: str) -> list[str]:
        """The listed names blocking would score ``name`` against, best key score
        first: at most `MAX_CANDIDATES`. For diagnosing a miss."""
        query = prepare(normalize(name), self._weights, self._default_weight)
        return [self._names[number].text for number in self._candidates(query)]

    def _candidates(self, query: Prepared) -> list[int]:
        # Sorted keys: the sums (and so the ranking) must not depend on string hashing.
        found = [(k, p) for k in sorted(blocking_keys(query)) if (p := self._postings.get(k))]
        light = [(k, p) for k, p in found if len(p) <= MAX_POSTING]
        totals: dict[int, float] = {}
        if light or not found:
            for key, posting in light:
                weight = self._key_weights[key]
                for number in posting:
                    totals[number] = totals.get(number, 0.0) + weight
        else:  # only common keys ("Ivan Petrov"): the names sharing the rarest one
            rarest = min(found, key=lambda kp: len(kp[1]))[1]
            totals = dict.fromkeys(rarest, 0.0)
            for key, posting in found:
                weight = self._key_weights[key]
                for number in posting:
                    if number in totals:
                        totals[number] += weight
        # Ties keep insertion order, which the sorted keys make the same on every run.
        return heapq.nlargest(MAX_CANDIDATES, totals, key=totals.__getitem__)

    def _score(self, query: Prepared, floor: float) -> list[tuple[int, Alignment]]:
        """Alignments with the candidates that could score ``floor`` or more."""
        numbers = self._candidates(query)
        candidates = [self._names[n].prepared for n in numbers]
        similar = _similar(query, set().union(*(c.texts for c in candidates)), skeletons=False)
        consonants: dict[str, list[tuple[int, float]]] = {}
        if query.norm.is_abjad or any(c.norm.is_abjad for c in candidates):
            texts = set().union(*(c.skeletons for c in candidates))
            consonants = _similar(query, texts, skeletons=True)
        q_sizes = [p.end - p.start for p in query.pieces]
        q_masks = [p.mask for p in query.pieces]
        scored: list[tuple[int, Alignment]] = []
        for number, candidate in zip(numbers, candidates, strict=True):
            use_consonants = query.norm.is_abjad or candidate.norm.is_abjad
            pairs: list[Candidate] = []
            q_mask = c_mask = 0
            for j, piece in enumerate(candidate.pieces):
                size = piece.end - piece.start
                for by_consonants, found in ((False, similar), (True, consonants)):
                    if by_consonants and not use_consonants:
                        continue
                    for i, similarity in found.get(
                        piece.skeleton if by_consonants else piece.text, ()
                    ):
                        q_mask |= q_masks[i]
                        c_mask |= piece.mask
                        pairs.append((-similarity, q_sizes[i] + size, i, j, by_consonants))
            if pairs and upper_bound(query, candidate, q_mask, c_mask) >= floor:
                scored.append((number, align(query, candidate, pairs)))
        return scored

    def _match(
        self, query: Prepared, score: float, notes: list[str], name: _Name, alignment: Alignment
    ) -> Match:
        entry = self._entries[name.entry]
        why = ["alias matched" if name.position else "primary name matched"]
        why += name_reasons(query, name.prepared, alignment) + notes
        return Match(
            entry=entry,
            score=score,
            matched_name=name.text,
            query_normalized=query.norm.comparison,
            matched_normalized=name.prepared.norm.comparison,
            why=tuple(why),
        )


def blocking_keys(prepared: Prepared) -> set[str]:
    """The inverted-index keys of a name: its tokens and joined adjacent tokens ("t"),
    the first four letters of long tokens ("p") and consonant skeletons ("s").
    Generic words are keys only for names made of nothing else."""
    all_generic = all(prepared.generic)
    keys: set[str] = set()
    for piece in prepared.pieces:
        single = piece.end - piece.start == 1
        if single and prepared.generic[piece.start] and not all_generic:
            continue
        if len(piece.text) >= 2:
            keys.add("t" + piece.text)
        if single and len(piece.text) >= 5:
            keys.add("p" + piece.text[:4])
        if single and len(piece.skeleton) >= 3:
            keys.add("s" + piece.skeleton)
    return keys


def _similar(
    query: Prepared, choices: set[str], *, skeletons: bool
) -> dict[str, list[tuple[int, float]]]:
    """For each choice, the query pieces similar to it: (piece number, similarity)."""
    ordered = sorted(choices)
    factor = CONSONANT_FACTOR if skeletons else 1.0
    cutoff = 100 * TOKEN_MATCH_MIN / factor
    found: dict[str, list[tuple[int, float]]] = {}
    for i, piece in enumerate(query.pieces):
        text = piece.skeleton if skeletons else piece.text
        if skeletons and len(text) < 2:
            continue
        for choice, similarity, _ in process.extract(
            text, ordered, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        ):
            found.setdefault(choice, []).append((i, round(similarity / 100 * factor, 4)))
    return found


def _adjust(
    entry: ListEntry, score: float, country: str | None, kind: str | None
) -> tuple[float, list[str]]:
    notes: list[str] = []
    if country is not None:
        if country in entry.countries:
            score += COUNTRY_BOOST
            notes.append(f"country {country} matches")
        elif entry.countries:
            notes.append(f"country {country} not among the entry's ({', '.join(entry.countries)})")
    if kind is not None and "unknown" not in (kind, entry.kind) and kind != entry.kind:
        score -= KIND_PENALTY
        notes.append(f"kind differs: query is a {kind}, entry is a {entry.kind}")
    return round(max(0.0, min(1.0, score)), 4), notes
