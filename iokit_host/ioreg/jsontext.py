"""JSON text for trees of any depth: what ``json.dumps`` writes, without its recursion.

``ioreg -a``'s JSON twin nests each entry's children inside it, so a machine thousands of
nubs deep makes a document thousands of levels deep, past the depth ``json.dumps`` can
encode. :func:`dumps` writes the same text (same separators, indentation and escapes) from an
explicit stack. Shallow documents, the usual case, still go to ``json.dumps``, which is faster.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

__all__ = ["dump", "dumps"]

#: Documents nesting less than this go to ``json.dumps`` (it recurses once per level).
_SHALLOW = 200


def dumps(value: Any, *, indent: int | None = None, ensure_ascii: bool = True) -> str:
    """``json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)``, for any depth."""
    if _depth_below(value, _SHALLOW):
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    return _Writer(indent, ensure_ascii).write(value)


def dump(value: Any, stream: TextIO, *, indent: int | None = None,
         ensure_ascii: bool = True) -> None:
    """:func:`dumps` to ``stream``, written as it is made (a deep tree's text is large)."""
    if _depth_below(value, _SHALLOW):
        stream.write(json.dumps(value, indent=indent, ensure_ascii=ensure_ascii))
    else:
        _Writer(indent, ensure_ascii).write(value, stream)


def _depth_below(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= limit:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)
    return True


class _Writer:
    def __init__(self, indent: int | None, ensure_ascii: bool) -> None:
        self.indent = indent
        self.scalar = json.JSONEncoder(ensure_ascii=ensure_ascii).encode
        self.separator = "," if indent is not None else ", "

    def write(self, value: Any, stream: TextIO | None = None) -> str:
        """The text, or with ``stream`` "" after writing it there piece by piece."""
        parts: list[str] = []
        # Each task is text to append as it is, or a value to write at a nesting level.
        tasks: list[tuple[bool, Any, int]] = [(False, value, 0)]
        while tasks:
            is_text, item, level = tasks.pop()
            if is_text:
                parts.append(item)
            elif isinstance(item, dict) and item:
                self.open("{", "}", [(self.key(k) + ": ", v) for k, v in item.items()],
                          level, parts, tasks)
            elif isinstance(item, (list, tuple)) and item:
                self.open("[", "]", [("", v) for v in item], level, parts, tasks)
            elif isinstance(item, (dict, list, tuple)):
                parts.append("{}" if isinstance(item, dict) else "[]")
            else:
                parts.append(self.scalar(item))
            if stream is not None and len(parts) >= 4096:
                stream.write("".join(parts))
                parts.clear()
        if stream is None:
            return "".join(parts)
        stream.write("".join(parts))
        return ""

    def open(self, opening: str, closing: str, entries: list[tuple[str, Any]], level: int,
             parts: list[str], tasks: list[tuple[bool, Any, int]]) -> None:
        inner = "" if self.indent is None else "\n" + " " * (self.indent * (level + 1))
        outer = "" if self.indent is None else "\n" + " " * (self.indent * level)
        parts.append(opening)
        tasks.append((True, outer + closing, level))
        for index in range(len(entries) - 1, -1, -1):
            prefix, child = entries[index]
            tasks.append((False, child, level + 1))
            tasks.append((True, (self.separator if index else "") + inner + prefix, level))

    def key(self, key: Any) -> str:
        # json.dumps's rules for keys that are not strings.
        if isinstance(key, str):
            return str(self.scalar(key))
        if key is True or key is False or key is None:
            return f'"{json.dumps(key)}"'
        if isinstance(key, (int, float)):
            return f'"{self.scalar(key)}"'
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
