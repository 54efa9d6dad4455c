"""A request's fields, checked: every value a client sends is untrusted (MIG's type checks).

A Mach message to the kernel is checked by the MIG stub before the kernel routine runs: wrong
types or sizes never reach it. Here each request handler reads its fields through :class:`Args`,
which raises :class:`BadRequest` (``kIOReturnBadArgument``) for a missing field, a wrong type,
a number out of range, an unknown handle or a dictionary nesting deeper than registry values
may; the client gets that IOReturn and the kernel goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from iokit_sdk.returns import IOReturn
from iokit_sdk.values import PropertyTypeError, check_value

from iokit_host.server.session import Session

__all__ = ["MAX_MATCHING_CHOICES", "Args", "BadRequest"]

T = TypeVar("T")
_U64 = (1 << 64) - 1
#: Array items (alternatives) a client's matching dictionary may hold in all; a kext's
#: personalities list a few dozen names at most.
MAX_MATCHING_CHOICES = 1024


class BadRequest(Exception):
    """The request cannot be served: ``code`` goes back to the client with ``message``."""

    def __init__(self, message: str, code: int = IOReturn.BAD_ARGUMENT) -> None:
        self.code = code
        super().__init__(message)


class Args:
    """The fields of one request."""

    def __init__(self, message: Mapping[str, Any]) -> None:
        self.message = message

    def _get(self, key: str) -> Any:
        if key not in self.message:
            raise BadRequest(f"missing field {key!r}")
        return self.message[key]

    def number(self, key: str, *, low: int = 0, high: int = _U64) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadRequest(f"{key!r} must be an integer from {low} to {high}")
        return value

    def text(self, key: str, *, optional: bool = False) -> str | None:
        value = self.message.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise BadRequest(f"{key!r} must be a string")
        return value

    def flag(self, key: str) -> bool:
        value = self.message.get(key, False)
        if not isinstance(value, bool):
            raise BadRequest(f"{key!r} must be true or false")
        return value

    def data(self, key: str, *, limit: int) -> bytes:
        value = self.message.get(key, b"")
        if not isinstance(value, bytes):
            raise BadRequest(f"{key!r} must be binary data")
        if len(value) > limit:
            raise BadRequest(f"{key!r} is over {limit} bytes", IOReturn.MESSAGE_TOO_LARGE)
        return value

    def numbers(self, key: str, *, limit: int) -> tuple[int, ...]:
        value = self.message.get(key, [])
        if not isinstance(value, list) or len(value) > limit:
            raise BadRequest(f"{key!r} must be an array of at most {limit} integers")
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _U64
                   for v in value):
            raise BadRequest(f"{key!r} must hold 64-bit unsigned integers")
        return tuple(value)

    def table(self, key: str) -> dict[str, Any]:
        """A dictionary of registry values (a matching dictionary), shape-checked."""
        value = self._get(key)
        if not isinstance(value, dict):
            raise BadRequest(f"{key!r} must be a dictionary")
        try:
            check_value(value, key)
        except PropertyTypeError as error:
            raise BadRequest(str(error)) from error
        return value

    def matching(self, key: str = "matching") -> dict[str, Any]:
        """A client's matching dictionary: :meth:`table`, holding at most
        :data:`MAX_MATCHING_CHOICES` array items in all (``IONameMatch`` names,
        ``IOPropertyMatch`` tables, ...). Each is tried against every service the request
        or a notification looks at: 200,000 names held the kernel 12 s over 60 services."""
        value = self.table(key)
        choices, stack = 0, [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                choices += len(item)
                stack.extend(item)
        if choices > MAX_MATCHING_CHOICES:
            raise BadRequest(f"{key!r} holds {choices} array items; a matching dictionary "
                             f"holds at most {MAX_MATCHING_CHOICES} (each is tried against "
                             "every service)")
        return value

    def handle(self, session: Session, key: str, kind: type[T]) -> T:
        """The object the client's handle in ``key`` names, if it is a ``kind``."""
        found = session.handles.get(self.message.get(key), kind)
        if found is None:
            raise BadRequest(f"{key!r} is not a handle of a {kind.__name__} this client holds")
        return found
