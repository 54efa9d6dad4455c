"""Fast reading of XML property lists (CoreFoundation's ``CFPropertyListCreateWithData``).

Manifests are read on every cold boot, and ``plistlib``'s parser calls back into Python for
every XML event. Here the C ElementTree builder makes the tree and one walk turns it into
Python values, the same values ``plistlib.loads`` gives (a test checks the whole corpus).
Anything unusual (binary plists, entity declarations, unknown tags, malformed values) goes
to ``plistlib`` itself, so its errors and its results stay the reference.
"""

from __future__ import annotations

import base64
import binascii
import plistlib
import xml.etree.ElementTree as ET
from typing import Any

__all__ = ["loads"]


class _Unusual(Exception):
    """Something this fast path does not handle; plistlib decides."""


def loads(data: bytes) -> Any:
    """Parse a plist like ``plistlib.loads`` (XML fast path, plistlib for the rest)."""
    if data[:8] == b"bplist00" or b"<!ENTITY" in data:
        return plistlib.loads(data)
    try:
        root = ET.fromstring(data)
        if root.tag != "plist" or len(root) != 1:
            raise _Unusual
        return _value(root[0])
    except (ET.ParseError, _Unusual, ValueError, TypeError, StopIteration, RecursionError):
        return plistlib.loads(data)


def _value(element: ET.Element) -> Any:
    tag = element.tag
    if tag == "string":
        return element.text or ""
    if tag == "dict":
        result: dict[str, Any] = {}
        children = iter(element)
        for key in children:
            if key.tag != "key":
                raise _Unusual
            result[key.text or ""] = _value(next(children))
        return result
    if tag == "array":
        return [_value(child) for child in element]
    if tag == "integer":
        text = (element.text or "").strip()
        return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)
    if tag in ("true", "false"):
        return tag == "true"
    if tag == "real":
        return float(element.text or "")
    if tag == "data":
        try:
            return base64.b64decode((element.text or "").encode("ascii"))
        except (binascii.Error, UnicodeEncodeError) as error:
            raise _Unusual from error
    if tag == "date":
        raise _Unusual  # rare in manifests; plistlib's date grammar is the reference
    raise _Unusual
