"""The log's public face: ``/log/`` in the C2SP tlog-tiles layout.

    GET  /log/checkpoint                 latest signed checkpoint + witness cosignatures
    GET  /log/tile/<L>/<N>[.p/<W>]       hash tiles
    GET  /log/tile/entries/<N>[.p/<W>]   entry bundles
    POST /log/cosignature                a witness's cosigned copy of a checkpoint

Entries are served exactly as the tree hashes them: sensitive fields only as
commitments (``clearance.audit.commitments``); what opens them (``audit_openings``) is
never served here, only to operators behind authentication.

Only what the latest checkpoint covers is served. Full tiles never change and are
served as immutable; a partial tile's bytes never change either, but it is superseded
as the log grows, so it is cached briefly.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from clearance.audit.checkpoints import Checkpointer
from clearance.audit.tlog import tiles
from clearance.audit.tlog.tiles import ENTRIES, TILE_HEIGHT, TILE_WIDTH, TileError
from clearance.audit.tree import MerkleTree
from clearance.audit.witnesses import Witnesses
from clearance.errors import ClearanceError, NotFound

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=60"
CHECKPOINT_CACHE = "no-cache"
MAX_COSIGNATURE_BYTES = 16 * 1024


def _not_found(message: str) -> Response:
    return PlainTextResponse(message + "\n", 404, headers={"cache-control": "no-cache"})


def _covered(tile: tiles.Tile, size: int) -> bool:
    """Whether a tree of ``size`` entries has every hash (or entry) ``tile`` holds."""
    count = size if tile.level == ENTRIES else size >> (TILE_HEIGHT * int(tile.level))
    return tile.index * TILE_WIDTH + tile.width <= count


class LogPublisher:
    def __init__(self, tree: MerkleTree, checkpoints: Checkpointer, witnesses: Witnesses) -> None:
        self._tree = tree
        self._checkpoints = checkpoints
        self._witnesses = witnesses

    async def checkpoint(self, _request: Request) -> Response:
        latest = await self._checkpoints.latest()
        if latest is None:
            return _not_found("no checkpoint has been published yet")
        note = latest.note + "".join(await self._witnesses.lines(latest.size))
        return PlainTextResponse(note, headers={"cache-control": CHECKPOINT_CACHE})

    async def tile(self, request: Request) -> Response:
        path = "tile/" + request.path_params["rest"]
        try:
            tile = tiles.parse_tile_path(path)
        except TileError as exc:
            return _not_found(f"not a tile path: {exc}")
        size = await self._published_size()
        if not _covered(tile, size):
            size = await self._published_size(fresh=True)  # another process may have signed
            if not _covered(tile, size):
                return _not_found(f"{path} is beyond the latest checkpoint (size {size})")
        if tile.level == ENTRIES:
            body = tiles.encode_entry_bundle(
                await self._tree.bundle_entries(tile.index, tile.width)
            )
        else:
            hashes = await self._tree.tile_hashes(int(tile.level), tile.index, tile.width)
            body = b"".join(hashes)
        cache = FULL_TILE_CACHE if tile.width == TILE_WIDTH else PARTIAL_TILE_CACHE
        return Response(
            body, media_type="application/octet-stream", headers={"cache-control": cache}
        )

    async def _published_size(self, fresh: bool = False) -> int:
        latest = await self._checkpoints.recent(fresh=fresh)
        return latest.size if latest is not None else 0

    async def cosignature(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_COSIGNATURE_BYTES:
            return PlainTextResponse("cosigned checkpoint too large\n", 413)
        try:
            accepted = await self._witnesses.add(body.decode("utf-8", errors="strict"))
        except UnicodeDecodeError:
            return PlainTextResponse("the note is not UTF-8\n", 400)
        except NotFound as exc:
            return PlainTextResponse(exc.message + "\n", 404)
        except ClearanceError as exc:
            return PlainTextResponse(exc.message + "\n", 400)
        return PlainTextResponse("".join(f"accepted {name}\n" for name in accepted))

    def routes(self) -> list[Route]:
        return [
            Route("/log/checkpoint", self.checkpoint, methods=["GET"]),
            Route("/log/tile/{rest:path}", self.tile, methods=["GET"]),
            Route("/log/cosignature", self.cosignature, methods=["POST"]),
        ]
