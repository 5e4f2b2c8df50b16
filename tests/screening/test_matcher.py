"""Matching quality and the shape of matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.screening import DEFAULT_THRESHOLD, ListEntry, ScreeningIndex
from clearance.screening.formats import load
from clearance.screening.matcher import MAX_CANDIDATES, MAX_POSTING


def org(entry_id: str, name: str, *aliases: str, countries: tuple[str, ...] = ()) -> ListEntry:
    return ListEntry("csl", entry_id, "organization", name, aliases, countries)


def person(entry_id: str, name: str, *aliases: str) -> ListEntry:
    return ListEntry("sdn", entry_id, "person", name, aliases)


LATIN_ONLY = ScreeningIndex.build(
    [
        org("1", "Romashka Trading LLC", countries=("RU",)),
        person("2", "IVANOV, Ivan"),
        person("3", "Nikolaos Papadakis"),
        person("4", "Karim Al-Haddad"),
        org("5", "Acme Rocket Works"),
        org("6", "北京星辰科技有限公司"),
        ListEntry("sdn", "7", "vessel", "SEA FALCON"),
        org("8", "Blue Harbor Shipping Limited", "Harbor Blue Maritime"),
    ]
)


@pytest.fixture(scope="module")
def everything() -> ScreeningIndex:
    fixtures = Path(__file__).resolve().parent / "fixtures"
    return ScreeningIndex.build(
        load(fixtures / "csl.csv", "csl")
        + load(fixtures / "sdn" / "sdn.csv", "sdn")
        + load(fixtures / "ftm.jsonl", "ftm")
    )


def best(index: ScreeningIndex, name: str, **hints: str) -> tuple[str, float, tuple[str, ...]]:
    matches = index.check(name, threshold=0.0, limit=1, **hints)
    assert matches, f"no candidate at all for {name!r}"
    return matches[0].entry.entry_id, matches[0].score, matches[0].why


def test_the_default_threshold() -> None:
    assert DEFAULT_THRESHOLD == 0.70


def test_a_cyrillic_spelling_of_a_latin_listed_name_is_caught() -> None:
    (match,) = LATIN_ONLY.check("ООО Ромашка Трейдинг")
    assert match.entry.entry_id == "1"
    assert match.score >= 0.70
    assert match.matched_name == "Romashka Trading LLC"
    assert match.query_normalized == "romashka treiding"
    assert match.matched_normalized == "romashka trading"
    assert "query transliterated from Cyrillic" in match.why
    assert "legal form OOO ≈ LLC ignored" in match.why
    assert "token 'romashka' exact" in match.why
    assert "token 'treiding' ≈ 'trading' (0.80)" in match.why


def test_ooo_is_caught_for_llc() -> None:
    entry_id, score, why = best(LATIN_ONLY, "OOO Romashka Trading")
    assert (entry_id, score) == ("1", 1.0)
    assert "legal form OOO ≈ LLC ignored" in why


def test_greek_transliterations_are_caught() -> None:
    entry_id, score, why = best(LATIN_ONLY, "Νικόλαος Παπαδάκης")
    assert (entry_id, score) == ("3", 1.0)
    assert "query transliterated from Greek" in why
    entry_id, score, why = best(LATIN_ONLY, "Ρομάσκα Ε.Π.Ε.")
    assert entry_id == "1"
    assert score >= 0.70
    assert "legal form EPE ≈ LLC ignored" in why
    assert "token 'romaska' ≈ 'romashka' (0.93)" in why


def test_arabic_transliterations_are_caught() -> None:
    entry_id, score, why = best(LATIN_ONLY, "كريم الحداد")
    assert entry_id == "4"
    assert score >= 0.70
    assert "query transliterated from Arabic" in why
    assert any("by consonants" in reason for reason in why)
    entry_id, score, _ = best(LATIN_ONLY, "روماشكا تريدينغ")
    assert entry_id == "1"
    assert score >= 0.70


def test_a_chinese_listed_name_is_caught_in_chinese_and_in_pinyin() -> None:
    entry_id, score, _ = best(LATIN_ONLY, "北京星辰科技有限公司")
    assert (entry_id, score) == ("6", 1.0)
    (match,) = LATIN_ONLY.check("Beijing Xingchen Keji")
    assert match.entry.entry_id == "6"
    assert match.score >= 0.70
    assert match.matched_normalized == "bei jing xing chen ke ji"
    assert "'beijing' ≈ 'bei jing' (same letters, split differently)" in match.why


@pytest.mark.parametrize("query", ["Ivanov Ivan", "Ivan Ivanov", "IVANOV, Ivan", "ivan  IVANOV"])
def test_word_order_does_not_matter(query: str) -> None:
    entry_id, score, _ = best(LATIN_ONLY, query)
    assert (entry_id, score) == ("2", 1.0)


def test_a_clearly_different_name_scores_low() -> None:
    assert LATIN_ONLY.check("Acme Research Institute") == []
    _, different, _ = best(LATIN_ONLY, "Acme Research Institute")
    _, exact, _ = best(LATIN_ONLY, "Acme Rocket Works")
    assert different < DEFAULT_THRESHOLD < exact == 1.0


@pytest.mark.parametrize(
    "query",
    ["Trading", "International", "Company", "Trading Company", "International Trading Co Ltd"],
)
def test_common_words_alone_are_no_hit(everything: ScreeningIndex, query: str) -> None:
    assert everything.check(query) == []


def test_a_common_word_matched_alone_is_capped_and_said(everything: ScreeningIndex) -> None:
    (match,) = everything.check("Trading", threshold=0.3, limit=1)
    assert match.score <= 0.5
    assert "only generic words in common: not a match on its own" in match.why


@pytest.mark.parametrize("query", ["", "   ", "...", "-- / --"])
def test_an_empty_query_is_refused(query: str) -> None:
    with pytest.raises(ValueError, match="is empty or has no letters or digits"):
        LATIN_ONLY.check(query)


def test_aliases_match_and_say_so(everything: ScreeningIndex) -> None:
    (match,) = everything.check("Huaxing Microsystems", limit=1)
    assert match.entry.entry_id == "ftm-company-1"
    assert match.matched_name == "Huaxing Microsystems"
    assert match.why[0] == "alias matched"
    (match,) = everything.check("Huaxing Electronics", limit=1)
    assert match.why[0] == "primary name matched"


def test_fixture_names_in_other_scripts_are_caught(everything: ScreeningIndex) -> None:
    cases = {
        "Volna Shipping LLC": "102",
        "Κωστόπουλος Δημήτριος": "107",
        "Dimitrios Kostopoulos": "107",
        "Huaxing Electronics": "ftm-company-1",
        "华星电子": "ftm-company-1",
        "Tekhnopark Sever LLC": "ftm-company-2",
        "Golden Crane Trading": "106",
        "金鹤贸易": "106",
        "ZAO Zarya Aerospace": "csl-0011",
        "Orizon Naftiliaki AE": "csl-0009",
    }
    for query, entry_id in cases.items():
        matches = everything.check(query, limit=1)
        assert [m.entry.entry_id for m in matches] == [entry_id], query


def test_country_boosts_and_kind_penalises() -> None:
    _, plain, _ = best(LATIN_ONLY, "Romashka Trading House")
    _, boosted, why = best(LATIN_ONLY, "Romashka Trading House", country="Russia")
    assert boosted == pytest.approx(plain + 0.03)
    assert "country RU matches" in why
    _, vessel, _ = best(LATIN_ONLY, "Sea Falcon", kind="vessel")
    _, wrong_kind, why = best(LATIN_ONLY, "Sea Falcon", kind="person")
    assert vessel == 1.0
    assert wrong_kind == pytest.approx(0.85)
    assert "kind differs: query is a person, entry is a vessel" in why


def test_results_are_sorted_thresholded_and_limited() -> None:
    index = ScreeningIndex.build(
        [org(str(i), f"Falcon Aviation {word}") for i, word in enumerate(["One", "Two", "Three"])]
        + [org("x", "Falcon Aviation")]
    )
    matches = index.check("Falcon Aviation", threshold=0.5)
    assert matches[0].entry.entry_id == "x"
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert len(index.check("Falcon Aviation", threshold=0.5, limit=2)) == 2
    assert all(m.score >= 0.9 for m in index.check("Falcon Aviation", threshold=0.9))


def test_matching_is_deterministic(everything: ScreeningIndex) -> None:
    first = [everything.check(q, threshold=0.3) for q in ("Romashka", "Ivanov", "Golden")]
    again = [everything.check(q, threshold=0.3) for q in ("Romashka", "Ivanov", "Golden")]
    assert first == again
    rebuilt = ScreeningIndex.build(everything.entries)
    assert [rebuilt.check(q, threshold=0.3) for q in ("Romashka", "Ivanov", "Golden")] == first


def test_bad_hints_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind 'robot'"):
        LATIN_ONLY.check("Acme", kind="robot")
    with pytest.raises(ValueError, match="unknown country 'Atlantis'"):
        LATIN_ONLY.check("Acme", country="Atlantis")
    with pytest.raises(ValueError, match="threshold must be between 0 and 1"):
        LATIN_ONLY.check("Acme", threshold=1.5)


def test_a_name_is_found_among_thousands_sharing_its_words() -> None:
    crowd = [org(str(i), f"Trading Partner {i} Shipping LLC") for i in range(3000)]
    index = ScreeningIndex.build([*crowd, org("needle", "Zephyr Trading Shipping LLC")])
    (match,) = index.check("Zephyr Trading Shipping Ltd")
    assert match.entry.entry_id == "needle"
    assert len(index.candidates("Zephyr Trading Shipping Ltd")) <= MAX_CANDIDATES


def test_rescreening_against_a_new_list_version_catches_a_new_entry() -> None:
    fixtures = Path(__file__).resolve().parent / "fixtures"
    v1 = ScreeningIndex.build(load(fixtures / "csl.csv", "csl"))
    v2 = ScreeningIndex.build(load(fixtures / "csl_v2.csv", "csl"))
    assert v1.check("Northwind Analytics Ltd") == []
    (match,) = v2.check("Northwind Analytics Ltd")
    assert match.entry.name == "Northwind Analytics LLC"
    assert "legal form LTD ≈ LLC ignored" in match.why


def test_a_name_made_only_of_common_words_is_still_found() -> None:
    # "petr" and "sidorov" are each in more names than blocking uses a key for.
    crowd = [person(f"a{i}", f"IVANOV{i}, Petr") for i in range(MAX_POSTING + 50)]
    crowd += [person(f"b{i}", f"SIDOROV, Ivan{i}") for i in range(MAX_POSTING + 50)]
    index = ScreeningIndex.build([*crowd, person("needle", "SIDOROV, Petr")])
    assert index.candidates("Petr Sidorov")[0] == "SIDOROV, Petr"
    matches = index.check("Petr Sidorov", threshold=0.9)
    assert [m.entry.entry_id for m in matches] == ["needle"]
