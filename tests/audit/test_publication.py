"""``/log/``: checkpoint and tiles as C2SP tlog-tiles, and our verifier over them."""

from __future__ import annotations

from clearance.audit.tlog import tiles
from clearance.audit.verify import verify
from tests.audit.conftest import Published


async def test_an_unmodified_log_verifies(published: Published) -> None:
    await published.grow(700)
    result = await verify(published.fetch, published.vkey)
    assert result.checkpoint.size == 700


async def test_tiles_have_the_right_sizes_and_cache_headers(published: Published) -> None:
    await published.grow(600)
    full = await published.client.get("/log/tile/0/000")
    assert full.status_code == 200
    assert len(full.content) == 256 * 32
    assert "immutable" in full.headers["cache-control"]
    partial = await published.client.get("/log/tile/0/002.p/88")
    assert len(partial.content) == 88 * 32
    assert "immutable" not in partial.headers["cache-control"]
    bundle = await published.client.get("/log/tile/entries/001")
    assert len(tiles.decode_entry_bundle(bundle.content)) == 256
    level1 = await published.client.get("/log/tile/1/000.p/2")
    assert len(level1.content) == 64
    checkpoint = await published.client.get("/log/checkpoint")
    assert checkpoint.headers["content-type"].startswith("text/plain")
    assert checkpoint.text.splitlines()[1] == "600"


async def test_nothing_beyond_the_checkpoint_is_served(published: Published) -> None:
    await published.grow(10)
    await published.services.audit.count()
    for path in ("tile/0/000.p/11", "tile/0/001", "tile/entries/000", "tile/1/000.p/1", "tile/x"):
        response = await published.client.get(f"/log/{path}")
        assert response.status_code == 404, path
