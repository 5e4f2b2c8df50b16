"""The lexical features both stages read, and the text they read it from."""

from __future__ import annotations

from clearance.content.features import MAX_WORDS, features, words
from clearance.content.prompts import request_text


def test_words_fold_case_accents_and_obfuscation() -> None:
    assert words("Make S.A.R.I.N at h0me, r1cin & a n t h r a x; CAFÉ") == [
        *("make", "sarin", "at", "home", "ricin", "anthrax", "cafe"),
    ]


def test_numbers_stay_numbers() -> None:
    assert words("CVE-2024-3094 was patched in 2024") == [
        *("cve", "2024", "3094", "was", "patched", "in", "2024"),
    ]


def test_features_are_words_and_adjacent_pairs() -> None:
    assert features("grow the spores") == {
        *("grow", "the", "spores", "grow the", "the spores"),
    }


def test_words_are_capped() -> None:
    assert len(words("word " * (MAX_WORDS + 10))) == MAX_WORDS


def test_request_text_reads_every_api_shape() -> None:
    chat = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "part one"}, {"type": "image_url"}],
            },
            {"role": "assistant", "content": None},
        ]
    }
    assert request_text("chat.completions", chat) == "be brief\npart one"
    anthropic = {
        "system": [{"type": "text", "text": "sys"}],
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "content": "tool said"}]},
            {"role": "user", "content": "hi"},
        ],
    }
    assert request_text("messages", anthropic) == "sys\ntool said\nhi"
    assert request_text("completions", {"prompt": ["a", "b"]}) == "a\nb"
    assert request_text("embeddings", {"input": [[1, 2, 3]]}) == ""
    assert request_text("embeddings", {"input": "embed me"}) == "embed me"
