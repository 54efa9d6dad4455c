"""XML property-list text for trees of any depth (``CFPropertyListWrite``'s XML layout, as
``plistlib.dumps`` writes it), from an explicit stack instead of recursion.

``ioreg -a`` nests each entry's children inside its dictionary, so a machine thousands of nubs
deep makes a plist thousands of levels deep: past the depth ``plistlib``'s writer reaches.
:func:`dumps` writes the same bytes as ``plistlib.dumps(value, fmt=FMT_XML)`` (tabs, sorted
keys, escapes, base64 line widths), except that a string holding a control character is
written as it is, as CoreFoundation does, where ``plistlib`` refuses it.
"""

from __future__ import annotations

import binascii
import datetime
import io
from typing import Any, BinaryIO

__all__ = ["dump", "dumps"]

_HEADER = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
           b'"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
           b'<plist version="1.0">\n')

# A task: (True, line, level) writes a line at an indent level; (False, value, level) a value.
_Task = tuple[bool, Any, int]


def dumps(value: Any) -> bytes:
    """The XML plist of ``value`` (str, bool, int, float, bytes, datetime, dict, list, tuple)."""
    stream = io.BytesIO()
    dump(value, stream)
    return stream.getvalue()


def dump(value: Any, stream: BinaryIO) -> None:
    """:func:`dumps` to ``stream``, written as it is made (a deep tree's text is large)."""
    stream.write(_HEADER)
    lines: list[str] = []
    tasks: list[_Task] = [(False, value, 0)]
    while tasks:
        if len(lines) >= 4096:
            stream.write(("\n".join(lines) + "\n").encode("utf-8"))
            lines.clear()
        is_line, item, level = tasks.pop()
        if is_line:
            lines.append("\t" * level + item)
        elif isinstance(item, dict) and item:
            _open("dict", level, lines, tasks)
            for key, child in sorted(item.items(), reverse=True):
                if not isinstance(key, str):
                    raise TypeError("keys must be strings")
                tasks.append((False, child, level + 1))
                tasks.append((True, f"<key>{_escape(key)}</key>", level + 1))
        elif isinstance(item, (list, tuple)) and item:
            _open("array", level, lines, tasks)
            tasks.extend((False, child, level + 1) for child in reversed(item))
        elif isinstance(item, (bytes, bytearray)):
            _data(bytes(item), level, lines)
        else:
            lines.append("\t" * level + _scalar(item))
    lines.append("</plist>\n")
    stream.write("\n".join(lines).encode("utf-8"))


def _open(element: str, level: int, lines: list[str], tasks: list[_Task]) -> None:
    lines.append("\t" * level + f"<{element}>")
    tasks.append((True, f"</{element}>", level))


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return f"<string>{_escape(value)}</string>"
    if value is True or value is False:
        return "<true/>" if value else "<false/>"
    if isinstance(value, int):
        if not -1 << 63 <= value < 1 << 64:
            raise OverflowError(value)
        return f"<integer>{int(value)}</integer>"
    if isinstance(value, float):
        return f"<real>{value!r}</real>"
    if isinstance(value, datetime.datetime):
        return (f"<date>{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
                f"{value.minute:02d}:{value.second:02d}Z</date>")
    if isinstance(value, dict):
        return "<dict/>"
    if isinstance(value, (list, tuple)):
        return "<array/>"
    raise TypeError(f"unsupported type: {type(value)}")


def _data(data: bytes, level: int, lines: list[str]) -> None:
    indent = "\t" * level
    lines.append(indent + "<data>")
    width = max(16, 76 - 8 * level)  # plistlib counts a tab as 8 columns
    chunk = (width // 4) * 3
    for start in range(0, len(data), chunk):
        encoded = binascii.b2a_base64(data[start:start + chunk], newline=False)
        lines.append(indent + encoded.decode("ascii"))
    lines.append(indent + "</data>")


def _escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
