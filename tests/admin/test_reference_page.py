"""The API reference pages work offline: no script, style or font from elsewhere, and
every operation of the OpenAPI document is on the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.inprocess import in_process


@pytest.mark.parametrize("mount", ["/admin", "/portal"])
async def test_the_reference_page_needs_nothing_from_the_internet(
    tmp_path: Path, mount: str
) -> None:
    async with in_process(tmp_path / "data") as ip:
        page = await ip.client.get(f"{mount}/docs")
        document = (await ip.client.get(f"{mount}/openapi.json")).json()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "an external resource"
    for path, item in document["paths"].items():
        for method in item:
            assert f'<span class="method {method}">{method}</span> ' in html
            assert f'<span class="path">{path}</span>' in html
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
