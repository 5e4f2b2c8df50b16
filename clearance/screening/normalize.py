"""Names turned into comparable forms: Latin script, case-folded, without punctuation,
legal forms set aside.

``normalize("ООО Ромашка Трейдинг")`` and ``normalize("Romashka Trading LLC")`` give
the tokens ``("romashka", "treiding")`` and ``("romashka", "trading")``, each with
the legal form of kind "llc" recorded rather than compared. rigour does the work:
`rigour.names` tokenises names and knows legal forms in many languages,
`rigour.text.ascii_text` transliterates (Cyrillic, Greek, Arabic, CJK to pinyin, ...).
A few legal forms rigour does not know (Corp, Greek, Chinese, Arabic) are added here.

For comparison, tokens are further reduced by `spelling` (transliteration variants
such as kh/h, y/i, zh/j unified) and, for abjad scripts, `skeleton` (consonants only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rigour.names import extract_org_types, remove_org_types
from rigour.names import normalize_name as rigour_normalize_name
from rigour.text import ascii_text, is_stopword
from rigour.text.scripts import text_scripts

# Legal forms rigour does not recognise, as token sequences -> kind of form. The kinds
# are rigour's generic ones, so "Corp" and "Inc" (which rigour files under "llc") agree.
_EXTRA_FORMS: dict[tuple[str, ...], str] = {
    ("corp",): "llc",
    ("corporation",): "llc",
    ("incorporated",): "llc",
    ("αε",): "jsc",  # ανώνυμη εταιρεία
    ("επε",): "llc",  # εταιρεία περιορισμένης ευθύνης
    ("ικε",): "llc",  # ιδιωτική κεφαλαιουχική εταιρεία
    ("ذمم",): "llc",  # ذات مسؤولية محدودة, written ذ.م.م
    ("ذات", "مسؤولية", "محدودة"): "llc",
    ("شركة",): "co",
}
# Legal forms written without spaces at the start or end of a CJK name.
_CJK_FORMS: tuple[tuple[str, str], ...] = (
    ("股份有限公司", "jsc"),
    ("有限责任公司", "llc"),
    ("有限責任公司", "llc"),
    ("有限公司", "llc"),
    ("株式会社", "jsc"),
    ("有限会社", "llc"),
    ("公司", "co"),
)
# Words that say what kind of business a party is rather than which one it is. They
# count for little when names are compared and never make a match on their own.
GENERIC_WORDS: frozenset[str] = frozenset(
    [
        "co",
        "company",
        "companies",
        "trading",
        "trade",
        "traders",
        "international",
        "intl",
        "group",
        "groups",
        "holding",
        "holdings",
        "industries",
        "industry",
        "industrial",
        "enterprise",
        "enterprises",
        "service",
        "services",
        "global",
        "import",
        "export",
        "imports",
        "exports",
        "general",
        "commercial",
        "technology",
        "technologies",
        "tech",
        "investment",
        "investments",
        "development",
        "management",
        "solutions",
        "systems",
        "partners",
        "ventures",
        "logistics",
        "resources",
        "engineering",
        "manufacturing",
        "products",
        "institute",
        "works",
        "center",
        "centre",
        "bank",
        "association",
        "foundation",
        "organization",
        "organisation",
        "agency",
        "office",
        "ministry",
        "national",
        "shipping",
        "maritime",
        "marine",
        "airlines",
        "electronics",
        "construction",
        "consulting",
        "supply",
        "supplies",
    ]
)
# Scripts whose Latin transliteration drops most vowels; compared by consonants too.
ABJAD_SCRIPTS: frozenset[str] = frozenset({"Arabic", "Hebrew", "Syriac", "Thaana"})
_DIGRAPHS = re.compile(r"([stgdz])h")
_VOWELS = re.compile(r"[aeiouyw]")
# In Arabic script و and ي are vowels as often as consonants; `spelling` made w a v.
_ABJAD_VOWELS = re.compile(r"[aeiouywv]")
_REPEATS = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class LegalForm:
    """A legal form found in a name: as written (normalised) and its kind, e.g.
    ("ооо", "llc") and ("llc", "llc") are the same kind of form."""

    surface: str
    kind: str


@dataclass(frozen=True, slots=True)
class NormalizedName:
    """A name ready for comparison.

    ``tokens`` are ASCII, case-folded, in the order written, without legal forms (kept
    when the name is nothing but a legal form). ``scripts`` are the non-Latin scripts
    the name was transliterated from.
    """

    original: str
    tokens: tuple[str, ...]
    legal_forms: tuple[LegalForm, ...]
    scripts: tuple[str, ...]
    is_abjad: bool
    """Transliterated from a script that leaves out vowels (ABJAD_SCRIPTS)."""

    @property
    def comparison(self) -> str:
        return " ".join(self.tokens)

    @property
    def sorted_form(self) -> str:
        """The tokens sorted: equal for names that differ only in word order."""
        return " ".join(sorted(self.tokens))


@lru_cache(maxsize=65536)
def normalize(name: str) -> NormalizedName:
    """The comparable form of ``name``.

    Raises ValueError when the name is empty or has no letters or digits.
    """
    base = rigour_normalize_name(name)
    if base is None or (not text_scripts(name) and not any(c.isdigit() for c in name)):
        raise ValueError(f"the name {name!r} is empty or has no letters or digits")
    scripts = tuple(sorted(text_scripts(name) - {"Latin"}))
    forms: list[LegalForm] = []
    words = _strip_cjk_forms(base.split(), forms)
    words = _strip_extra_forms(words, forms)
    rest = " ".join(words)
    rigour_forms = extract_org_types(rest, generic=True)
    if rigour_forms:
        forms.extend(LegalForm(surface, kind) for surface, kind in rigour_forms)
        rest = remove_org_types(rest, replacement=" ")
    tokens = _latin_tokens(rest.split())
    if not tokens:  # nothing but legal forms: compare those
        tokens = _latin_tokens(base.split())
    abjad = any(script in ABJAD_SCRIPTS for script in scripts)
    return NormalizedName(name, tokens, tuple(forms), scripts, abjad)


def _strip_cjk_forms(words: list[str], forms: list[LegalForm]) -> list[str]:
    out: list[str] = []
    for word in words:
        rest = word
        for form, kind in _CJK_FORMS:
            if len(word) > len(form) and (word.endswith(form) or word.startswith(form)):
                forms.append(LegalForm(form, kind))
                rest = word[: -len(form)] if word.endswith(form) else word[len(form) :]
                break
        out.append(rest)
    return out


def _strip_extra_forms(words: list[str], forms: list[LegalForm]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in (3, 1):
            phrase = tuple(words[i : i + size])
            if len(phrase) == size and phrase in _EXTRA_FORMS:
                forms.append(LegalForm(" ".join(phrase), _EXTRA_FORMS[phrase]))
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _latin_tokens(words: list[str]) -> tuple[str, ...]:
    tokens: list[str] = []
    for word in words:
        tokens.extend(_latin_word(word))
    return tuple(tokens)


@lru_cache(maxsize=65536)
def _latin_word(word: str) -> tuple[str, ...]:
    """One word in Latin letters: CJK words become several (pinyin) syllables."""
    if word.isascii():
        return (word,)
    latin = rigour_normalize_name(ascii_text(word))
    return tuple(latin.split()) if latin else (word,)


def is_generic(token: str) -> bool:
    """Whether a token is a stopword or a generic business word (see GENERIC_WORDS)."""
    return token in GENERIC_WORDS or is_stopword(token)


_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("shch", "sh"),
    ("sch", "sh"),
    ("tch", "ch"),
    ("dzh", "j"),
    ("zh", "j"),
    ("kh", "h"),
    ("ph", "f"),
    ("ck", "k"),
    ("ks", "x"),
    ("ou", "u"),
    ("w", "v"),
    ("y", "i"),
)


@lru_cache(maxsize=65536)
def spelling(token: str) -> str:
    """A token with the usual transliteration variants unified, for comparison:
    "Yuriy", "Iurii" and "Yury" give "iuri"; "Dzhohn" and "John" give "john";
    "Khakhon" and "Hahon" give "hahon". Doubled letters become single ("haddad")."""
    text = token
    for variant, canonical in _SPELLINGS:
        text = text.replace(variant, canonical)
    return _REPEATS.sub(r"\1", text)


@lru_cache(maxsize=65536)
def skeleton(token: str, abjad: bool = False) -> str:
    """A token reduced to its consonants, for spellings that differ in vowels and
    digraphs: "romashka", "romaska" and (from Arabic) "rwmashka" all give "rmsk";
    "mikhail" and "mihail" give "mhl". With
    ``abjad``, an Arabic article glued to the word is dropped ("alhdad" gives "hd",
    like "haddad")."""
    text = token
    if abjad and len(text) > 4 and text.startswith(("al", "el")):
        text = text[2:]
    text = text.replace("q", "k").replace("c", "k").replace("kh", "h").replace("ph", "f")
    text = _DIGRAPHS.sub(r"\1", text)
    text = _REPEATS.sub(r"\1", text)
    vowels = _ABJAD_VOWELS if abjad else _VOWELS
    head, tail = text[:1], vowels.sub("", text[1:])
    if vowels.match(head):
        head = ""
    return _REPEATS.sub(r"\1", head + tail)
