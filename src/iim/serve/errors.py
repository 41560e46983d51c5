"""ServeError: a refusal with its HTTP status, a short code and plain words, answered as JSON."""

from __future__ import annotations

__all__ = ["ServeError"]


class ServeError(Exception):
    """A request the service refuses: ``status`` (4xx / 503), ``code`` (e.g. ``"not_an_image"``) and ``detail``.

    The app answers it as ``{"error": code, "detail": detail}`` with ``headers`` (``Retry-After`` for a 503).
    """

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
