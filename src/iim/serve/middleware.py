"""Two ASGI middlewares of ``iim-serve``: the token check and the request-body limit.

Both are plain ASGI (no request parsing): the token is checked from the headers, the body limit from
``Content-Length`` and again while the body streams in, so a refused request is never read into memory.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

from iim.serve.errors import ServeError

__all__ = ["BodyLimit", "TokenAuth", "error_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_response(err: ServeError) -> JSONResponse:
    """``{"error": code, "detail": detail}`` with the error's status and headers."""
    return JSONResponse({"error": err.code, "detail": err.detail}, status_code=err.status, headers=err.headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _bytes(n: int) -> str:
    """A byte count in words: ``25 MB``, ``195.3 KB``, ``512 bytes``."""
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


class TokenAuth:
    """Answer 401 to any HTTP request without ``Authorization: Bearer <token>``, except the ``open_paths``.

    Args:
        app: The wrapped ASGI app.
        token: The token (compared in constant time).
        open_paths: Exact paths that need no token (``/health``, the page).
        open_prefixes: Path prefixes that need none (the page's static files).
    """

    def __init__(
        self, app: ASGIApp, token: str, open_paths: tuple[str, ...] = (), open_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.token = token.encode()
        self.open_paths = open_paths
        self.open_prefixes = open_prefixes

    def _open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._open(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"authorization") or ""
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token):
            detail = "this server needs a token: send `Authorization: Bearer <token>`"
            if given:
                detail = "wrong token: send `Authorization: Bearer <token>` with the server's token"
            err = ServeError(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})
            await error_response(err)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413: at once from ``Content-Length``, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    def _error(self, size: str) -> ServeError:
        return ServeError(413, "upload_too_large", f"upload too large: {size}, the limit is {_bytes(self.max_bytes)}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            await error_response(self._error(_bytes(int(length))))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._error(f"more than {_bytes(received)}")
            return message

        await self.app(scope, limited, send)
