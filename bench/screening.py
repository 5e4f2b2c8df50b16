"""Denied-party screening benchmark: build an index over a synthetic list and check a
batch of names against it.

    .venv/bin/python bench/screening.py [--entries 20000] [--queries 10000] [--seed 7]

The list (seeded, so every run is the same) mixes organisations with legal forms,
people written "LAST, First", vessels, and names in Cyrillic, Greek, Arabic and
Chinese. The queries are some listed names verbatim, some altered (a typo, word order
swapped, legal form swapped, written in another script, Chinese in pinyin) and mostly
unrelated names.

Target: 10,000 checks in at most 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from rapidfuzz import fuzz, process
from rigour.text import ascii_text

from clearance.screening import ListEntry, ScreeningIndex


def words(text: str) -> list[str]:
    return text.split()


ONSETS = words("b d g k l m n p r s t v z br dr gr kr pr st tr sh ch zh kh")
VOWELS = words("a e i o u a o")
CODAS = ["", "", "", "n", "r", "s", "l", "k", "m", "v"]
FIRST_NAMES = words(
    "Ivan Sergei Olga Anna Dmitri Elena Yusuf Karim Fatima Omar Layla Hassan Nikos Maria"
    " Giorgos Eleni Wei Li Ming Hua Jun Mei Peter Anna John Maria Ahmed Ali Leila Pavel"
    " Irina Andrei Natalia Samir Nadia Chen Yan Dimitris Sofia Tomas Lucia"
)
GENERIC = [
    *("Trading", "International", "Industrial Group", "Shipping", "Technologies", "Holding"),
    *("Import Export", "Engineering", "Logistics", "", "", ""),
]
LEGAL = ["LLC", "Ltd", "Limited", "GmbH", "JSC", "OOO", "AO", "S.A.", "Inc.", "Corp.", "Co., Ltd."]
SWAP = {"LLC": "OOO", "OOO": "LLC", "Ltd": "Limited", "Limited": "Ltd", "JSC": "AO", "AO": "PAO"}
SWAP |= {"GmbH": "LLC", "S.A.": "SA", "Inc.": "Corp", "Corp.": "Inc", "Co., Ltd.": "Co Ltd"}
# The tables below map Latin letters to letters of other scripts, some of which look
# alike: that is the point, hence the RUF001 exemptions.
CYRILLIC = dict(zip("abvgdezijklmnoprstufhcywq", "абвгдезийклмнопрстуфхцывк", strict=True))
CYRILLIC |= {"sh": "ш", "ch": "ч", "zh": "ж", "kh": "х", "x": "кс", "j": "дж"}  # noqa: RUF001
GREEK = dict(zip("agdezhiklmnxoprstfvcqy", "αγδεζηικλμνξοπρστφβκκι", strict=True))
GREEK |= {"ch": "χ", "sh": "σ", "zh": "ζ", "kh": "χ", "th": "θ", "b": "μπ", "u": "ου", "j": "τζ"}  # noqa: RUF001
ARABIC = dict(zip("bdgklmnprstvzfhjiuo", "بدغكلمنبرستفزفهجيوو", strict=True))
ARABIC |= {"sh": "ش", "ch": "تش", "zh": "ج", "kh": "خ", "a": "ا", "e": ""}  # noqa: RUF001
HAN = "华星科技金莲鹤贸易东方明光新天龙海山北京上长城宏达信和盛安泰永恒丰利源通瑞德"


def word(rng: random.Random) -> str:
    syllables = rng.choice([2, 2, 3])
    text = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables))
    return (text + rng.choice(CODAS)).capitalize()


def script(text: str, table: dict[str, str]) -> str:
    out, i, lower = [], 0, text.lower()
    while i < len(lower):
        if lower[i : i + 2] in table:
            out.append(table[lower[i : i + 2]])
            i += 2
        else:
            out.append(table.get(lower[i], lower[i]))
            i += 1
    return "".join(out)


def organization(rng: random.Random) -> tuple[str, str]:
    core = " ".join(word(rng) for _ in range(rng.choice([1, 2, 2, 3])))
    generic, legal = rng.choice(GENERIC), rng.choice(LEGAL)
    name = " ".join(p for p in (core, generic) if p)
    return (f"{legal} {name}" if legal in ("OOO", "AO", "JSC") else f"{name} {legal}"), core


def make_entry(rng: random.Random, number: int) -> ListEntry:
    roll = rng.random()
    if roll < 0.45:
        name, core = organization(rng)
        aliases: tuple[str, ...] = ()
        if rng.random() < 0.2:
            aliases = ("ООО " + script(core, CYRILLIC).title(),)  # noqa: RUF001
        return ListEntry("bench", str(number), "organization", name, aliases, ("RU",))
    if roll < 0.80:
        last, first = word(rng), rng.choice(FIRST_NAMES)
        return ListEntry("bench", str(number), "person", f"{last.upper()}, {first}")
    if roll < 0.85:
        return ListEntry("bench", str(number), "vessel", f"{word(rng)} {word(rng)}".upper())
    if roll < 0.90:
        _, core = organization(rng)
        return ListEntry(
            "bench",
            str(number),
            "organization",
            "АО " + script(core, CYRILLIC).title(),  # noqa: RUF001
        )
    if roll < 0.93:
        return ListEntry("bench", str(number), "person", script(f"{word(rng)} {word(rng)}", GREEK))
    if roll < 0.96:
        return ListEntry("bench", str(number), "person", script(f"{word(rng)} {word(rng)}", ARABIC))
    han = "".join(rng.choice(HAN) for _ in range(rng.choice([2, 3, 4])))
    return ListEntry("bench", str(number), "organization", han + "有限公司")


def perturb(rng: random.Random, entry: ListEntry) -> str:
    name = entry.name
    if any("\u4e00" <= c <= "\u9fff" for c in name):
        syllables = ascii_text(name.removesuffix("有限公司")).split()
        return " ".join("".join(syllables[i : i + 2]).title() for i in range(0, len(syllables), 2))
    if entry.kind == "person" and "," in name:
        last, first = (p.strip() for p in name.split(",", 1))
        return rng.choice([f"{first} {last}", script(f"{first} {last}", CYRILLIC)])
    for legal, other in SWAP.items():
        if name.endswith(" " + legal) or name.startswith(legal + " "):
            if rng.random() < 0.5:
                return name.replace(legal, other, 1)
            return script(name.replace(legal, ""), CYRILLIC if rng.random() < 0.5 else GREEK)
    if not name.isascii():
        return ascii_text(name)  # a listed Cyrillic, Greek or Arabic name written in Latin
    chars = list(name)
    i = rng.randrange(1, len(chars) - 1)
    chars[i] = rng.choice("aeiou") if chars[i].isalpha() else chars[i]
    return "".join(chars)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--baseline", type=int, default=200, help="queries for the exhaustive-scan baseline"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    entries = [make_entry(rng, n) for n in range(args.entries)]
    queries: list[tuple[str, str]] = []  # (kind of query, name)
    for _ in range(args.queries):
        roll = rng.random()
        if roll < 0.10:
            queries.append(("exact", rng.choice(entries).name))
        elif roll < 0.25:
            queries.append(("altered", perturb(rng, rng.choice(entries))))
        elif roll < 0.60:
            queries.append(("unrelated", organization(rng)[0]))
        else:
            queries.append(("unrelated", f"{rng.choice(FIRST_NAMES)} {word(rng)}"))

    started = time.perf_counter()
    index = ScreeningIndex.build(entries)
    built = time.perf_counter()
    hits: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    matches_total = 0
    for kind, name in queries:
        asked[kind] += 1
        matches = index.check(name)
        matches_total += len(matches)
        hits[kind] += bool(matches)
    checked = time.perf_counter()

    check_time = checked - built
    print(f"entries: {len(entries):,}  names indexed: {sum(len(e.names) for e in entries):,}")
    print(f"build: {built - started:.2f} s")
    print(
        f"check: {check_time:.2f} s for {len(queries):,} names = {len(queries) / check_time:,.0f} names/s"
    )
    for kind in ("exact", "altered", "unrelated"):
        print(f"  {kind:>9}: {hits[kind]:,} of {asked[kind]:,} names had a match ≥ 0.70")
    print(f"matches reported: {matches_total:,}")
    baseline(entries, [name for _, name in queries[: args.baseline]], index)


def baseline(entries: list[ListEntry], names: list[str], index: ScreeningIndex) -> None:
    """Side by side on the same queries: the index against the obvious alternative, a
    rapidfuzz scan of every listed name (transliterated to ASCII, order-insensitive)."""
    listed = [ascii_text(n).lower() for e in entries for n in e.names]
    started = time.perf_counter()
    for name in names:
        process.extract(ascii_text(name).lower(), listed, scorer=fuzz.token_sort_ratio, limit=10)
    scanned = time.perf_counter()
    for name in names:
        index.check(name)
    indexed = time.perf_counter()
    scan_ms = (scanned - started) / len(names) * 1000
    index_ms = (indexed - scanned) / len(names) * 1000
    print(
        f"side by side, {len(names)} queries: exhaustive rapidfuzz scan {scan_ms:.2f} ms/name, "
        f"index {index_ms:.2f} ms/name — {scan_ms / index_ms:.1f}x"
    )


if __name__ == "__main__":
    main()
