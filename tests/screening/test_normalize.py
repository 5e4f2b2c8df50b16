"""Name normalisation: transliteration, legal forms, order-insensitive forms."""

from __future__ import annotations

import pytest

from clearance.screening.normalize import is_generic, normalize, skeleton


def test_cyrillic_and_latin_forms_of_a_name_become_comparable() -> None:
    cyrillic, latin = normalize("ООО Ромашка"), normalize("Romashka LLC")
    assert cyrillic.tokens == latin.tokens == ("romashka",)
    assert cyrillic.scripts == ("Cyrillic",)
    assert latin.scripts == ()
    assert [f.kind for f in cyrillic.legal_forms] == [f.kind for f in latin.legal_forms] == ["llc"]
    assert cyrillic.legal_forms[0].surface == "ооо"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Acme LLC", "llc"),
        ("OOO Acme", "llc"),
        ("ООО Acme", "llc"),
        ("Acme GmbH", "llc"),
        ("Acme Co., Ltd.", "llc"),
        ("Acme Ltd", "llc"),
        ("Acme Limited", "llc"),
        ("Acme Inc.", "llc"),
        ("Acme Corp.", "llc"),
        ("Acme Corporation", "llc"),
        ("JSC Acme", "jsc"),
        ("AO Acme", "jsc"),
        ("ZAO Acme", "jsc"),
        ("PAO Acme", "jsc"),
        ("Acme S.A.", "jsc"),
    ],
)
def test_legal_forms_are_set_aside_and_recorded(name: str, kind: str) -> None:
    norm = normalize(name)
    assert norm.tokens == ("acme",)
    assert [f.kind for f in norm.legal_forms] == [kind]


def test_legal_forms_in_other_scripts() -> None:
    greek = normalize("Ορίζων Ναυτιλιακή Α.Ε.")
    assert greek.tokens == ("orizon", "navtiliaki")
    assert [f.kind for f in greek.legal_forms] == ["jsc"]
    chinese = normalize("北京星辰科技有限公司")
    assert [(f.surface, f.kind) for f in chinese.legal_forms] == [("有限公司", "llc")]
    assert chinese.tokens == ("bei", "jing", "xing", "chen", "ke", "ji")  # pinyin


def test_a_name_that_is_only_a_legal_form_keeps_it() -> None:
    assert normalize("LLC").tokens == ("llc",)


def test_case_and_punctuation_do_not_matter() -> None:
    assert normalize("ACME, Inc.").tokens == normalize("acme inc").tokens
    assert normalize("Al-Haddad").tokens == ("al", "haddad")


def test_sorted_form_ignores_word_order() -> None:
    assert normalize("IVANOV, Ivan").sorted_form == normalize("Ivan Ivanov").sorted_form
    assert normalize("IVANOV, Ivan").comparison == "ivanov ivan"


def test_greek_and_arabic_are_transliterated() -> None:
    assert normalize("Νικόλαος Παπαδάκης").tokens == ("nikolaos", "papadakis")
    arabic = normalize("كريم الحداد")
    assert arabic.tokens == ("krym", "alhdad")
    assert arabic.is_abjad


@pytest.mark.parametrize("name", ["", "   ", "!!!", "—", "…", "☺"])
def test_names_without_letters_or_digits_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is empty or has no letters or digits"):
        normalize(name)


def test_generic_words() -> None:
    assert all(is_generic(w) for w in ("trading", "international", "company", "the", "of"))
    assert not is_generic("romashka")


def test_skeletons_bridge_spellings() -> None:
    assert skeleton("romashka") == skeleton("romaska") == skeleton("rwmashka") == "rmsk"
    assert skeleton("alhdad", abjad=True) == skeleton("haddad") == "hd"
    assert skeleton("alexander") != skeleton("alexander", abjad=True)


def test_normalisations_are_cached() -> None:
    normalize("Cache Probe Holdings")
    before = normalize.cache_info().hits
    assert normalize("Cache Probe Holdings") is normalize("Cache Probe Holdings")
    assert normalize.cache_info().hits == before + 2
