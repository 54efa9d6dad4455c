"""The explorer's HTTP errors: every refusal is a JSON diagnostic with a stable reference.

A browser or a script asking the explorer something it cannot answer (an id that is not an
entry, a plane the registry lacks, a search too long, events while they are not allowed) gets
a 4xx with ``{"error": {"reference", "message", "hint"}}``, the project's diagnostic shape;
nothing the explorer's own code raises reaches a client as a traceback.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from iokit_host.errors import Diagnostic

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """A refusal: HTTP ``status`` and the diagnostic the client reads."""

    def __init__(self, status: int, reference: str, message: str, *,
                 hint: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.diagnostic = Diagnostic(reference, message, hint=hint, key=key)


def error_response(status: int, diagnostic: Diagnostic,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": diagnostic.to_json()}
    return JSONResponse(body, status_code=status, headers=headers)
