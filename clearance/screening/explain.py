"""Human-readable reasons for a name match, for the reviewer who has to decide on it."""

from __future__ import annotations

from rigour.text import ascii_text
from rigour.text.translit import should_ascii

from clearance.screening.normalize import LegalForm, NormalizedName
from clearance.screening.scoring import Alignment, Piece, Prepared


def name_reasons(query: Prepared, candidate: Prepared, alignment: Alignment) -> list[str]:
    """Why ``query`` and ``candidate`` scored as they did: transliteration, legal
    forms, each aligned token and what was left unmatched."""
    why: list[str] = []
    if query.norm.scripts:
        why.append(f"query transliterated from {', '.join(query.norm.scripts)}")
    if candidate.norm.scripts:
        why.append(f"listed name transliterated from {', '.join(candidate.norm.scripts)}")
    why.extend(_legal_form_reasons(query.norm, candidate.norm))
    for pair in alignment.pairs:
        q, c = query.pieces[pair.q], candidate.pieces[pair.c]
        q_text, c_text = _words(query.norm, q), _words(candidate.norm, c)
        if q_text == c_text:
            why.append(f"token {q_text!r} exact")
        elif q_text.replace(" ", "") == c_text.replace(" ", ""):
            why.append(f"{q_text!r} ≈ {c_text!r} (same letters, split differently)")
        elif q.text == c.text:
            why.append(f"token {q_text!r} ≈ {c_text!r} (spelling variants)")
        elif pair.by_consonants:
            why.append(f"token {q_text!r} ≈ {c_text!r} by consonants ({pair.similarity:.2f})")
        else:
            why.append(f"token {q_text!r} ≈ {c_text!r} ({pair.similarity:.2f})")
    if _order_differs(query, candidate, alignment):
        why.append("word order differs")
    for side, prepared, taken in (
        ("query", query, {i for p in alignment.pairs for i in _span(query.pieces[p.q])}),
        (
            "listed name",
            candidate,
            {i for p in alignment.pairs for i in _span(candidate.pieces[p.c])},
        ),
    ):
        left = [t for i, t in enumerate(prepared.norm.tokens) if i not in taken]
        if left:
            why.append(f"not matched in {side}: {', '.join(repr(t) for t in left)}")
    if alignment.generic_only:
        why.append("only generic words in common: not a match on its own")
    return why


def _words(norm: NormalizedName, piece: Piece) -> str:
    return " ".join(norm.tokens[piece.start : piece.end])


def _span(piece: Piece) -> range:
    return range(piece.start, piece.end)


def _order_differs(query: Prepared, candidate: Prepared, alignment: Alignment) -> bool:
    pairs = sorted(alignment.pairs, key=lambda p: query.pieces[p.q].start)
    starts = [candidate.pieces[p.c].start for p in pairs]
    return starts != sorted(starts)


def display_form(form: LegalForm) -> str:
    """A legal form as a reader expects it: "OOO" for "ооо", "有限公司" as is."""
    surface = ascii_text(form.surface) if should_ascii(form.surface) else form.surface
    return surface.upper()


def _legal_form_reasons(query: NormalizedName, candidate: NormalizedName) -> list[str]:
    q_forms, c_forms = query.legal_forms, candidate.legal_forms
    if not q_forms and not c_forms:
        return []
    if not q_forms or not c_forms:
        forms = ", ".join(display_form(f) for f in q_forms or c_forms)
        return [f"legal form {forms} ignored"]
    q_kinds = {f.kind for f in q_forms}
    same = [f for f in c_forms if f.kind in q_kinds]
    if not same:
        q_text = ", ".join(display_form(f) for f in q_forms)
        c_text = ", ".join(display_form(f) for f in c_forms)
        return [f"legal forms differ: {q_text} vs {c_text}"]
    reasons = []
    for c_form in same:
        q_form = next(f for f in q_forms if f.kind == c_form.kind)
        q_text, c_text = display_form(q_form), display_form(c_form)
        if q_text == c_text:
            reasons.append(f"legal form {q_text} ignored")
        else:
            reasons.append(f"legal form {q_text} ≈ {c_text} ignored")
    return reasons
