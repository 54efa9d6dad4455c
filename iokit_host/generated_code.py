"""Generated code compiled once: what ``__pycache__`` is to a module, for ``dataclasses``.

``dataclasses`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` (and a
frozen class's ``__setattr__`` and ``__delattr__``) as source text and compiles it with
``exec`` while the class is made: some 370 compilations for the 67 dataclasses an ``iokit
boot`` makes, 22 of the 28 ms they cost, paid again by every process (a driver process makes
the SDK's). Python keeps a module's bytecode between runs; nothing keeps this.

A process that runs one command and ends (the ``iokit`` console script, a driver process)
calls :func:`keep_compiled` before it imports anything that makes a dataclass. Its
:class:`CompiledCode` then serves as ``dataclasses``' ``exec`` (a module's global is found
before the builtin of the same name): text an earlier run compiled is run from the code kept
for it, and only new text is compiled. The code is what ``exec`` would have compiled (the same
file name, no ``__future__`` flags), so every class is made exactly as before.

The file: one per interpreter (its cache tag, and its version inside) and role, in the host's
cache folder (``$IOKIT_CACHE_DIR``), read only when the host can have written it
(:func:`~iokit_host.input_file.read_cache_file`); a header line with the CRC-32 of the body,
then a ``marshal`` dict from each text to its code (keyed by the text itself: ``hashlib``
would cost a driver process more to import than the file saves it). Only time is saved, so
it never speaks: a missing, damaged or foreign file is not used, one that cannot be written
is not kept. Written only where Python would write bytecode (not under ``PYTHONDONTWRITEBYTECODE``),
and ``IOKIT_NO_CACHE=1`` leaves ``dataclasses`` alone.
"""

from __future__ import annotations

import binascii
import builtins
import dataclasses
import itertools
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

from iokit_host.input_file import read_cache_file, write_cache_file
from iokit_host.settings import cache_dir, env_flag

__all__ = ["CompiledCode", "keep_compiled"]

#: Far past what the host's and a few drivers' dataclasses compile to (about 300 KB).
MAX_BYTES = 16 << 20
#: Texts kept at most: those the last run used first, then older ones up to this many.
MAX_ENTRIES = 4096


class CompiledCode:
    """Code compiled from generated source text, kept between runs in one file."""

    def __init__(self, target: Path, kept: dict[str, CodeType]) -> None:
        self.target = target
        self._kept = kept
        self._used: dict[str, CodeType] = {}
        self._compiled = 0

    @property
    def compiled(self) -> int:
        """How many texts this run compiled (the file had no code for them)."""
        return self._compiled

    def exec(self, source: Any, scope: Any = None, local: Any = None, /) -> None:
        """``exec`` as ``dataclasses`` calls it, running kept code for a text seen before."""
        if not isinstance(source, str):  # code or bytes: not what is kept here
            builtins.exec(source, scope, local)  # noqa: S102 - dataclasses' own call
            return
        code = self._kept.get(source)
        if code is None:
            # As exec compiles it: its file name; dont_inherit, as dataclasses has no
            # __future__ import (this module's annotations flag would change __annotations__).
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self._kept[source] = code
            self._compiled += 1
        self._used[source] = code
        builtins.exec(code, scope, local)  # noqa: S102 - what dataclasses wrote

    def save(self) -> None:
        """Write the file when this run compiled anything (and Python writes bytecode)."""
        if not self._compiled or sys.dont_write_bytecode:
            return
        keep: dict[str, CodeType] = {}
        for key, code in itertools.chain(self._used.items(), self._kept.items()):
            if len(keep) >= MAX_ENTRIES:
                break
            keep.setdefault(key, code)
        body = marshal.dumps(keep)
        header = f"{_header(body)}\n".encode()
        try:
            write_cache_file(self.target, header + body, prefix=".generated-")
        except (OSError, ValueError):  # read-only, full, a folder in its place: not kept
            pass


def keep_compiled(role: str) -> CompiledCode | None:
    """Serve ``dataclasses``' ``exec`` from the kept file for ``role`` in this process.

    :returns: the store, whose :meth:`~CompiledCode.save` keeps what this run compiled; None
        under ``IOKIT_NO_CACHE=1``.
    """
    if env_flag("IOKIT_NO_CACHE"):
        return None
    target = cache_dir() / f"generated-code-{sys.implementation.cache_tag}-{role}.bin"
    store = CompiledCode(target, _load(target))
    dataclasses.exec = store.exec  # type: ignore[attr-defined]
    return store


def _header(body: bytes) -> str:
    """This Python's version (one word) and the body's CRC-32: a damaged or foreign file's
    code is never run (a bad code object can crash the interpreter)."""
    return f"{''.join(sys.version.split())} {binascii.crc32(body):08x}"


def _load(target: Path) -> dict[str, CodeType]:
    """The kept code, or nothing when the file is missing, damaged or not this Python's."""
    try:
        data = read_cache_file(target, limit=MAX_BYTES)
    except (OSError, ValueError):
        return {}
    header, _, body = data.partition(b"\n")
    if header != _header(body).encode():
        return {}
    try:
        kept = marshal.loads(body)
    except (EOFError, ValueError, TypeError):  # pragma: no cover - the digest matched
        return {}
    if not isinstance(kept, dict):  # pragma: no cover - only this module writes it
        return {}
    return {key: code for key, code in kept.items()
            if isinstance(key, str) and isinstance(code, CodeType)}

