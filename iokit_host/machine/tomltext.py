"""TOML text for machine-model files: keys, strings, numbers and inline values (the writer's half
of ``tomllib``; IOKit's counterpart is OSSerialize writing a property table as XML).

Only what ``dump_machine`` needs: bare or quoted keys, basic strings with escapes, integers,
booleans, and inline arrays and tables. Strings that TOML cannot hold (lone surrogates) raise
``ValueError`` for the caller to report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_inline", "format_key", "format_string"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
                  '"': '\\"', "\\": "\\\\"}


def format_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else format_string(key)


def format_string(text: str) -> str:
    """A TOML basic string; raises ValueError for text TOML cannot represent."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"lone surrogate U+{code:04X} cannot be written in TOML")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def format_inline(value: Any) -> str:
    """An inline TOML value for str, bool, int, sequences and mappings (nested freely)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{format_key(k)} = {format_inline(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(format_inline(item) for item in value) + "]"
    raise ValueError(f"{type(value).__name__} has no TOML form")
