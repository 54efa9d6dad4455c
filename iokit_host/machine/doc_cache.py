"""The parsed-model cache: a machine-model file's TOML, kept parsed (kextcache's idea, for models).

``tomllib`` is the largest single cost of booting the built-in machine or an imported model
(a 10,000-nub import is seconds of it), and every ``iokit`` command parses the same text again.
This keeps the document ``tomllib`` returned as JSON, which reads ten to twenty times faster,
under the cache folder of the kernel collection (``$IOKIT_CACHE_DIR``, else
``<sys.prefix>/var/iokit-host/``), one file per model source.

Never stale: a cached document is used only when it was made from text with the same SHA-256
as the text being read now, by the same cache format; the model's validation
(:func:`~iokit_host.machine.format.parse_document`) runs on it exactly as on a fresh parse, so
diagnostics are the same. Text that does not parse is never cached (its errors come from
``tomllib``, every time); nor is a document JSON cannot carry exactly (TOML dates and times,
NaN). A cache that cannot be read, is not JSON or has another shape is ignored and rewritten,
and so is anything at its name the host cannot have written (a FIFO, a device, a symlink, a
file of another user: :func:`~iokit_host.input_file.read_cache_file`); one
that cannot be written is silently skipped (the kernel collection reports its folder's
problems). At most :data:`MAX_FILES` models are kept, the least recently written going first.
``IOKIT_NO_CACHE=1`` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iokit_host.input_file import (
    MAX_CACHE_FILES,
    prune_cache_files,
    read_cache_file,
    write_cache_file,
)
from iokit_host.settings import cache_dir, env_flag

__all__ = ["MAX_FILES", "cached_document"]

#: Bump when the stored layout (or what a document means to the parser) changes.
#: 2: a header line (format, the text's SHA-256, the document's own SHA-256), then the
#: document; a document damaged on disk (a flipped byte that is still JSON) is not used.
FORMAT = 2

#: Below this the TOML parse is cheaper than hashing, reading and decoding the cache.
_MIN_CHARS = 4096
#: Cached models kept; past it the least recently written go (temporary model files would
#: otherwise leave one each, forever).
MAX_FILES = MAX_CACHE_FILES
#: A cached document is JSON of a model of at most 256 MiB of TOML; past this it is not one.
_MAX_BYTES = 1 << 30


def cached_document(text: str, source: str | None,
                    parse: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """``parse(text)``, from the cache when it holds this very text's document."""
    if len(text) < _MIN_CHARS or env_flag("IOKIT_NO_CACHE"):
        return parse(text)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    target = _cache_file(source)
    doc = _read(target, digest)
    if doc is not None:
        return doc
    doc = parse(text)  # raises for bad text: nothing is cached for it
    _write(target, digest, doc)
    return doc


def _cache_file(source: str | None) -> Path:
    folder = cache_dir()
    where = source if source is None or source.startswith("<") else os.path.abspath(source)
    name = hashlib.sha256(f"{sys.executable}\0{where}".encode(
        "utf-8", "surrogateescape")).hexdigest()[:16]
    return folder / f"machine-{name}.json"


def _read(target: Path, digest: str) -> dict[str, Any] | None:
    try:
        header, _, body = read_cache_file(target, limit=_MAX_BYTES).partition(b"\n")
        stored = json.loads(header)
        if not isinstance(stored, dict) or stored.get("format") != FORMAT \
                or stored.get("sha256") != digest \
                or stored.get("doc-sha256") != hashlib.sha256(body).hexdigest():
            return None  # another text's, another format's, or damaged since it was written
        doc = json.loads(body)
    except (OSError, ValueError, RecursionError):  # none yet, unreadable or not ours, not JSON
        return None
    return doc if isinstance(doc, dict) else None


def _write(target: Path, digest: str, doc: dict[str, Any]) -> None:
    try:
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):  # dates, times, NaN: not JSON's to carry
        return
    if json.loads(body) != doc:  # only a document JSON gives back exactly
        return
    encoded = body.encode("utf-8", "surrogatepass")
    header = json.dumps({"format": FORMAT, "sha256": digest,
                         "doc-sha256": hashlib.sha256(encoded).hexdigest()})
    data = header.encode() + b"\n" + encoded
    try:
        write_cache_file(target, data, prefix=".machine-")
    except OSError:  # a read-only or missing folder: the boot goes on from the parse
        return
    _prune(target.parent)


def _prune(folder: Path) -> None:
    """Remove the least recently written cached models past :data:`MAX_FILES`."""
    prune_cache_files(folder, "machine-", keep=MAX_FILES)
