"""How well two normalised names agree: a weighted, one-to-one alignment of their
tokens, and the reasons behind the number.

Each side's tokens carry weights (rare tokens weigh more, generic business words and
stopwords little). Tokens are aligned greedily, best similarity first, each token used
at most once; adjacent tokens may also be joined ("bei jing" ≈ "beijing"). The score
is the harmonic mean of the weight covered on each side, so a name must account for
most of the other name and the other way round: "Trading" does not match "Romashka
Trading", "Acme Research Institute" hardly matches "Acme Rocket Works".
"""

from __future__ import annotations

from dataclasses import dataclass

from clearance.screening.normalize import NormalizedName, is_generic, skeleton, spelling

TOKEN_MATCH_MIN = 0.75
"""Two tokens below this similarity (0..1) do not count as matching at all."""
CONSONANT_FACTOR = 0.9
"""Matches found only by comparing consonant skeletons (abjad scripts) count less."""
GENERIC_WEIGHT = 0.15
"""How much a generic word counts relative to a distinctive word of the same rarity."""
GENERIC_ONLY_CAP = 0.5
"""The most a pair of names can score when the words they share are all generic."""
LEGAL_FORM_PENALTY = 0.02
FUZZY_EXPONENT = 2
"""A token matched with similarity s covers s**FUZZY_EXPONENT of its weight: near
misses ("tratera" ≈ "tratri", 0.77) count for much less than exact tokens."""
MAX_JOIN = 3
"""Up to this many adjacent tokens may be joined to match one token on the other side."""


@dataclass(frozen=True, slots=True)
class Piece:
    """A token, or adjacent tokens joined, of a prepared name: ``text`` (its
    `spelling`) covers the tokens ``start`` to ``end`` (exclusive)."""

    text: str
    start: int
    end: int
    skeleton: str
    mask: int
    """Bit ``i`` set for each token ``i`` the piece covers."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A normalised name with what comparison needs precomputed."""

    norm: NormalizedName
    weights: tuple[float, ...]
    generic: tuple[bool, ...]
    pieces: tuple[Piece, ...]
    total_weight: float
    form_kinds: frozenset[str]
    """The kinds of the name's legal forms, except the vague "co" (company)."""
    texts: frozenset[str]
    skeletons: frozenset[str]
    """The pieces' texts and (when longer than one letter) consonant skeletons."""


@dataclass(frozen=True, slots=True)
class Pair:
    """Piece ``q`` of the query aligned with piece ``c`` of the candidate."""

    q: int
    c: int
    similarity: float
    by_consonants: bool


@dataclass(frozen=True, slots=True)
class Alignment:
    score: float
    pairs: tuple[Pair, ...]
    generic_only: bool


def prepare(norm: NormalizedName, weight_of: dict[str, float], default_weight: float) -> Prepared:
    """``norm`` with token weights (``weight_of``, else ``default_weight``, scaled
    down for generic words) and its pieces."""
    generic = tuple(is_generic(t) for t in norm.tokens)
    weights = tuple(
        weight_of.get(t, default_weight) * (GENERIC_WEIGHT if g else 1.0)
        for t, g in zip(norm.tokens, generic, strict=True)
    )
    kinds = frozenset(form.kind for form in norm.legal_forms if form.kind != "co")
    parts = pieces(norm)
    texts = frozenset(p.text for p in parts)
    skeletons = frozenset(p.skeleton for p in parts if len(p.skeleton) > 1)
    return Prepared(norm, weights, generic, parts, sum(weights), kinds, texts, skeletons)


def pieces(norm: NormalizedName) -> tuple[Piece, ...]:
    tokens = norm.tokens
    out: list[Piece] = []
    for size in range(1, min(MAX_JOIN, len(tokens)) + 1):
        for start in range(len(tokens) - size + 1):
            text = spelling("".join(tokens[start : start + size]))
            mask = ((1 << size) - 1) << start
            out.append(Piece(text, start, start + size, skeleton(text, norm.is_abjad), mask))
    return tuple(out)


def upper_bound(query: Prepared, candidate: Prepared, q_mask: int, c_mask: int) -> float:
    """The best score an alignment could reach if every token in the masks (the
    tokens some pair touches) were matched exactly: cheap, to skip hopeless ones."""
    cov_q = _masked(query.weights, q_mask) / query.total_weight if query.total_weight else 0.0
    cov_c = (
        _masked(candidate.weights, c_mask) / candidate.total_weight
        if candidate.total_weight
        else 0.0
    )
    return 2 * cov_q * cov_c / (cov_q + cov_c) if cov_q + cov_c else 0.0


def _masked(weights: tuple[float, ...], mask: int) -> float:
    return sum(w for i, w in enumerate(weights) if mask >> i & 1)


Candidate = tuple[float, int, int, int, bool]
"""A possible pairing, ordered as `align` takes them: (minus the similarity, tokens
joined on both sides, query piece, candidate piece, found by consonants)."""


def align(query: Prepared, candidate: Prepared, pairs: list[Candidate]) -> Alignment:
    """Align greedily: the most similar pairs first, single tokens before joined ones
    among equals; a token already covered on either side is not covered again."""
    pairs.sort()
    used_q = [False] * len(query.weights)
    used_c = [False] * len(candidate.weights)
    chosen: list[Pair] = []
    covered_q = covered_c = 0.0
    distinct = False
    for minus_similarity, _, q, c, by_consonants in pairs:
        qp, cp = query.pieces[q], candidate.pieces[c]
        if any(used_q[qp.start : qp.end]) or any(used_c[cp.start : cp.end]):
            continue
        similarity = -minus_similarity
        credit = similarity**FUZZY_EXPONENT
        for i in range(qp.start, qp.end):
            used_q[i] = True
            covered_q += query.weights[i] * credit
        for i in range(cp.start, cp.end):
            used_c[i] = True
            covered_c += candidate.weights[i] * credit
        # Distinctive only when neither side is a generic word ("trading" ≈ "treiding").
        distinct = distinct or (
            not all(query.generic[qp.start : qp.end])
            and not all(candidate.generic[cp.start : cp.end])
        )
        chosen.append(Pair(q, c, similarity, by_consonants))
    cov_q = covered_q / query.total_weight if query.total_weight else 0.0
    cov_c = covered_c / candidate.total_weight if candidate.total_weight else 0.0
    score = 2 * cov_q * cov_c / (cov_q + cov_c) if cov_q + cov_c else 0.0
    all_generic = all(query.generic) and all(candidate.generic)
    generic_only = bool(chosen) and not distinct and not all_generic
    if generic_only:
        score = min(score, GENERIC_ONLY_CAP)
    if query.form_kinds and candidate.form_kinds and not query.form_kinds & candidate.form_kinds:
        score -= LEGAL_FORM_PENALTY
    return Alignment(max(0.0, min(1.0, score)), tuple(chosen), generic_only)
