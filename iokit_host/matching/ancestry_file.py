"""The class-ancestry knowledge base's file, read a class at a time (as OSMetaClass is looked up
by name, never walked whole).

``class_ancestry.json`` holds some 4,900 kernel classes, and decoding it whole is about 5 ms of
every ``iokit boot``, which asks about a few dozen. ``scripts/build_ancestry.py`` writes the
kernel graph one class to a line (its ``render``), so :func:`read_knowledge` decodes everything
else at once and keeps each class's line as text until that class is asked about. The answers
are the same values ``json.loads`` gives for the whole file; text laid out any other way is
decoded whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ClassLines", "read_knowledge"]

#: Where the kernel graph starts and ends in the layout ``render`` writes.
_KERNEL_OPEN = '\n"kernel":{\n'
_KERNEL_CLOSE = '\n},\n"driverkit":{'


class ClassLines(Mapping[str, list[list[Any]]]):
    """The kernel graph's rows by class name, each class's line decoded on first use.

    :param lines: each class's line, keyed by its JSON key as written (the name with its
        opening quote: cutting it off every line would be a third of the read).

    A line that does not decode (a damaged install) gives that class no rows: it is unknown to
    the base, as every class is when the whole file does not read.
    """

    def __init__(self, lines: dict[str, str]) -> None:
        self._lines = lines
        self._rows: dict[str, list[list[Any]]] = {}

    def __getitem__(self, name: str) -> list[list[Any]]:
        rows = self._rows.get(name)
        if rows is None:
            text = self._lines['"' + name].removesuffix(",")
            try:
                decoded = json.loads(text)
            except (ValueError, RecursionError):
                decoded = []
            rows = self._rows[name] = decoded if isinstance(decoded, list) else []
        return rows

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and '"' + name in self._lines

    def __iter__(self) -> Iterator[str]:
        return (key[1:] for key in self._lines)

    def __len__(self) -> int:
        return len(self._lines)


def read_knowledge(text: str) -> dict[str, Any]:
    """The file's sections, its kernel graph a :class:`ClassLines` when ``text`` is in the
    layout ``render`` writes; else ``json.loads(text)``.

    :raises ValueError: the text is not JSON (as ``json.loads``).
    """
    start = text.find(_KERNEL_OPEN)
    end = text.find(_KERNEL_CLOSE, start + 1) if start >= 0 else -1
    lines = _class_lines(text[start + len(_KERNEL_OPEN):end]) if end >= 0 else None
    data: dict[str, Any] = json.loads(
        text if lines is None else f'{text[:start]}\n"kernel":{{}}{text[end + 2:]}')
    if lines is not None:
        if not isinstance(data, dict) or data.get("kernel") != {}:
            whole: dict[str, Any] = json.loads(text)
            return whole
        data["kernel"] = ClassLines(lines)
    return data


def _class_lines(block: str) -> dict[str, str] | None:
    """Each ``"Name":[...]`` line by its key (``"Name``); None when the block is not such
    lines (then the file is decoded whole), or holds an escape (a name may then differ from
    its text: left to the whole decode)."""
    if not block:
        return {}
    lines = block.split("\n")
    if "\\" in block or block[:1] != '"' or block.count('\n"') != len(lines) - 1:
        return None
    try:
        keyed = dict(line.split('":', 1) for line in lines)
    except ValueError:  # a line without its key
        return None
    # A line whose first '":' is its opening quote (a damaged '":/ass11":[...]') has no key.
    return keyed if all(key[:1] == '"' for key in keyed) else None
