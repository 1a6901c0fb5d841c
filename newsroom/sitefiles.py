"""The rendered site served as nginx serves it (deploy/nginx.conf), for the embedded mode.

Render replaces pages atomically (a new file renamed over the old one), so a path may name
another file a moment later. Everything a response says about a file, its size, ETag and
Last-Modified, therefore comes from the file descriptor that is then read and sent: a reader
gets the old page or the new one, whole, never the length of one with the bytes of the other.

A folder holding `410.html` instead of `index.html` is a withdrawn item: 410 Gone, with that
page. A folder without its trailing slash redirects (relative), a missing file is the site's
404 page with 404.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio

GONE_PAGE = "410.html"
CHUNK = 256 * 1024
# What nginx sends with charset=utf-8 (deploy/nginx.conf: charset_types, text/html implied).
CHARSET_TYPES = {
    "text/html",
    "text/css",
    "text/plain",
    "text/xml",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/json",
    "application/feed+json",
}
TYPES = {
    ".json": "application/json",
    ".xml": "application/xml",
    ".js": "text/javascript",
    # As deploy/nginx.conf names them under /media/ (not every system's mime.types does).
    ".avif": "image/avif",
    ".webp": "image/webp",
}
# Uploaded media: content-hashed URLs whose file never changes (deploy/nginx.conf).
MEDIA_CACHE = "public, max-age=31536000, immutable"


def content_type(name: str) -> str:
    """The Content-Type of a site file, as nginx's types and charset settings give it."""
    if name == "feed.json":
        kind = "application/feed+json"
    else:
        suffix = os.path.splitext(name)[1].lower()
        kind = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind in CHARSET_TYPES else kind


def cache_control(path: str, status: int = 200) -> str:
    # As deploy/nginx.conf: revalidate pages and feeds (new items show at once), the
    # stylesheet for an hour, uploaded media for a year: found ones only (a medium asked for
    # a moment before render wrote it must not stay missing in caches).
    if path.startswith("/media/") and status == 200:
        return MEDIA_CACHE
    return "max-age=3600" if path.startswith("/static/") else "no-cache"


class SiteFiles:
    """ASGI app: GET and HEAD of the files under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.root = Path(directory).resolve()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"Method Not Allowed\n", [(b"allow", b"GET, HEAD")])
            return
        path = scope["path"]
        target = self._local(path)
        if target is None:
            await self._not_found(scope, send)
            return
        if os.path.isfile(os.path.join(target, GONE_PAGE)):
            await self._serve_page(scope, send, os.path.join(target, GONE_PAGE), 410)
            return
        if path.endswith("/"):
            target = os.path.join(target, "index.html")
        fd = _open(target)
        if fd is None:
            await self._not_found(scope, send)
            return
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            os.close(fd)
            query = scope.get("query_string", b"")
            # Path-absolute, as nginx's `absolute_redirect off` (no Host or port is trusted),
            # from the normalised segments: "//host" must never become a redirect elsewhere.
            segments = [quote(part) for part in path.split("/") if part]
            location = ("/" + "/".join(segments) + "/").encode("ascii")
            if query:
                location += b"?" + query
            await _plain(send, 301, b"", [(b"location", location)])
            return
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            await self._not_found(scope, send)
            return
        await self._send_fd(scope, send, fd, info, status=200, name=os.path.basename(target))

    def _local(self, path: str) -> str | None:
        """The file system path under the root for a URL path, or None when it has none."""
        parts = [part for part in path.split("/") if part]
        # Dot files are the writers' temporary files; "..", NUL and backslashes never belong;
        # a gone page is only ever the answer of its folder's URL (as in nginx).
        if any(part.startswith(".") or "\x00" in part or "\\" in part for part in parts):
            return None
        if parts and parts[-1] == GONE_PAGE:
            return None
        return os.path.join(self.root, *parts)

    async def _not_found(self, scope: dict, send: Any) -> None:
        page = os.path.join(self.root, "404.html")
        if not await self._serve_page(scope, send, page, 404):
            await _plain(send, 404, b"Not Found\n")

    async def _serve_page(self, scope: dict, send: Any, page: str, status: int) -> bool:
        fd = _open(page)
        if fd is None:
            return False
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return False
        await self._send_fd(scope, send, fd, info, status=status, name=os.path.basename(page))
        return True

    async def _send_fd(
        self, scope: dict, send: Any, fd: int, info: os.stat_result, *, status: int, name: str
    ) -> None:
        try:
            # nginx's ETag: hex mtime and hex size, of the file being sent.
            etag = f'"{int(info.st_mtime):x}-{info.st_size:x}"'
            modified = formatdate(info.st_mtime, usegmt=True)
            headers = [
                (b"content-type", content_type(name).encode("latin-1")),
                (b"cache-control", cache_control(scope["path"], status).encode("latin-1")),
            ]
            if status == 200:
                headers += [(b"etag", etag.encode()), (b"last-modified", modified.encode())]
                if _not_modified(scope, etag, info.st_mtime):
                    await send({"type": "http.response.start", "status": 304, "headers": headers})
                    await send({"type": "http.response.body", "body": b""})
                    return
            size = info.st_size
            headers.append((b"content-length", str(size).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            offset = 0
            while offset < size:
                want = min(CHUNK, size - offset)
                chunk = await anyio.to_thread.run_sync(os.pread, fd, want, offset)
                if not chunk:
                    # Truncated in place (no writer here does that): never send a short body
                    # that claims to be whole.
                    raise OSError(f"{name} shrank while being sent")
                offset += len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": offset < size}
                )
            if size == 0:
                await send({"type": "http.response.body", "body": b""})
        finally:
            os.close(fd)


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None
    except OSError:  # a name too long, a loop of links: nothing to serve
        return None


def _not_modified(scope: dict, etag: str, mtime: float) -> bool:
    headers = dict(scope.get("headers") or [])
    if_none_match = headers.get(b"if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.decode("latin-1").split(",")]
        return "*" in tags or etag in tags
    if_modified_since = headers.get(b"if-modified-since")
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since.decode("latin-1")).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return int(mtime) <= since
    return False


async def _plain(send: Any, status: int, body: bytes, headers: list | None = None) -> None:
    headers = [
        *(headers or []),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
