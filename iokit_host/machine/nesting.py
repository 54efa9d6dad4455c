"""How deeply a model file nests inline arrays and tables, found without parsing it (the TOML
side of the nesting limit IOKit's unserializers keep; see ``iokit_sdk.values.MAX_VALUE_DEPTH``).

``tomllib`` reads inline arrays and tables by recursion, so a value nested deeply enough
exhausts Python's stack before the parser can say where. This scans the text for brackets
(skipping strings and comments) to name the line, the key and the depth instead.
"""

from __future__ import annotations

import re

from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.toml_keys import STRINGS_AND_COMMENTS

__all__ = ["too_deep_error"]

# Strings and comments are skipped whole; brackets, '=' and newlines drive the scan.
_TOKEN = re.compile(rf'''
      (?P<skip> {STRINGS_AND_COMMENTS} )
    | (?P<open> [\[{{] )
    | (?P<close> [\]}}] )
    | (?P<equals> = )
    | (?P<newline> \n )
''', re.VERBOSE | re.DOTALL)
_HEADER = re.compile(r"\[\[?\s*([^\]\n]*?)\s*\]")


def too_deep_error(text: str, source: str | None) -> MachineModelError:
    """The error for ``text`` that nests too deeply to parse: file, line, key and depth."""
    found = _first_too_deep(text)
    hint = (f"property values nest at most {MAX_VALUE_DEPTH} arrays or tables deep; "
            "flatten the value")
    if found is None:
        return MachineModelError("values nest too deeply to read", reference=E.TOO_DEEP,
                                 file=source, hint=hint)
    line, key, depth = found
    return MachineModelError(f"line {line}: a value nests more than {depth - 1} arrays or "
                             "tables deep", reference=E.TOO_DEEP, file=source, key=key,
                             hint=hint)


def _first_too_deep(text: str) -> tuple[int, str, int] | None:
    """``(line, key, depth)`` where nesting first passes the limit, or None."""
    depth = 0
    table = ""
    key_start = 0
    key = ""
    in_value = False
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "open" and not in_value and depth == 0:
            header = _HEADER.match(text, match.start())
            table = header.group(1) if header else table
            continue
        if kind == "open":
            depth += 1
            if depth > MAX_VALUE_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                return line, f"{table}.{key}" if table else key, depth
        elif kind == "close" and in_value:
            depth = max(depth - 1, 0)
        elif kind == "equals" and depth == 0 and not in_value:
            key = text[key_start:match.start()].strip()
            in_value = True
        elif kind == "newline" and depth == 0:
            in_value = False
            key_start = match.end()
    return None
