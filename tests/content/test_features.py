"""The lexical features both stages read, and the text they read it from."""

from __future__ import annotations

import pytest

from clearance.content.features import OVERLAP_WORDS, WINDOW_WORDS, features, pieces, words
from clearance.content.prompts import Unscreenable, request_text


def nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = [value]
    return value


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


def test_invisible_characters_do_not_split_words() -> None:
    assert words("an\u200bthr\u00adax") == ["anthrax"]


def test_long_texts_are_also_read_in_overlapping_windows() -> None:
    text = " ".join(f"w{i}" for i in range(300))
    found = pieces(text)
    assert found[0] == text
    assert all(len(p.split()) <= WINDOW_WORDS for p in found[1:])
    assert found[1].split()[-OVERLAP_WORDS:] == found[2].split()[:OVERLAP_WORDS]
    assert found[-1].split()[-1] == "w299"
    assert pieces("short text") == ["short text"]


def test_request_text_reads_every_api_shape() -> None:
    chat = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "part one"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"q": "call args"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "tool said"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "tool doc"}}],
        "prediction": {"type": "content", "content": "predicted"},
        "user": "end-user-7",
    }
    text = request_text("chat.completions", chat)
    for expected in ("be brief", "part one", "call args", "tool said", "tool doc", "predicted"):
        assert expected in text
    for structure in ("base64", "assistant", "function", "image_url", "cyber-pro"):
        assert structure not in text.split("\n")
    for read_too in ("end-user-7", "c1"):  # ids and the end user's name reach upstream
        assert read_too in text.split("\n")
    anthropic = {
        "system": [{"type": "text", "text": "sys"}],
        "metadata": {"user_id": "u1"},
        "messages": [
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "result"}],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t", "name": "n", "input": {"q": "tool input"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "doc body"},
                    },
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                ],
            },
        ],
    }
    text = request_text("messages", anthropic)
    for expected in ("sys", "result", "tool input", "doc body", "u1"):
        assert expected in text
    assert "AAAA" not in text
    assert request_text("completions", {"prompt": ["a", "b"], "suffix": "end"}) == "a\nb\nend"
    assert request_text("embeddings", {"input": "embed me"}) == "embed me"


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("embeddings", {"input": [[1, 2, 3]]}, "input"),
        ("embeddings", {"input": [1, 2, 3]}, "input"),
        ("completions", {"prompt": [5, 6]}, "prompt"),
        ("chat.completions", {"messages": [{"content": nested(40)}]}, "messages"),
    ],
)
def test_what_cannot_be_screened_is_refused(
    endpoint: str, body: dict[str, object], field: str
) -> None:
    with pytest.raises(Unscreenable) as refused:
        request_text(endpoint, body)
    assert refused.value.field == field
