"""The console's static files (one stylesheet, one script), served from the package: no CDN,
no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

from mailfleet.exceptions import NotFound

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# Read once: two small files, and no path from a request ever reaches the file system.
FILES = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.suffix in TYPES}


@router.get("/static/{name}")
def static(name: str) -> Response:
    body = FILES.get(name)
    if body is None:
        raise NotFound("No such file.", code="not_found")
    return Response(
        body,
        media_type=TYPES[Path(name).suffix],
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
