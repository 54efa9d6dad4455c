"""Dotted keys in a TOML file, measured before ``tomllib`` reads it (a dotted key is
OSDictionary nesting written on one line: ``a.b.c = 1`` is ``{a = {b = {c = 1}}}``).

``tomllib`` spends time and memory quadratic in the parts of one dotted key or table header:
a 40 KB line ``a.a.a....a = 1`` of 20,000 parts took 7 s and 2.4 GB before the depth check
could refuse what it built. A key of more parts than a value may nest deep
(``MAX_VALUE_DEPTH``) can only be refused, so every TOML input (machine models, scenarios,
entitlement policies) asks :func:`deep_dotted_key` first and refuses the file at once, naming
the line. One regular-expression search clears a real file; only a file it flags is read token
by token, so that a string or a comment holding many dots is not taken for a key.
"""

from __future__ import annotations

import re

from iokit_sdk.values import MAX_VALUE_DEPTH

__all__ = ["MAX_KEY_PARTS", "STRINGS_AND_COMMENTS", "deep_dotted_key", "deep_key_reason"]

#: The most parts a dotted key or table header may have.
MAX_KEY_PARTS = MAX_VALUE_DEPTH
# A quoted part never starts right after a backslash: there its quote is an escaped one
# inside a string or comment (no key follows a backslash in TOML), and a search restarting
# at each escaped quote of '"\"\"...' would read the rest of the line from each: quadratic.
_PART = r"""(?:[A-Za-z0-9_-]++|(?<!\\)"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
# A run starts where no bare part goes on from before it: a search would otherwise start
# again at each character of a long word (hex data), each start reading the rest of it.
_RUN = rf"(?<![A-Za-z0-9_-]){_PART}(?:[ \t]*+\.[ \t]*+{_PART}){{{MAX_KEY_PARTS},}}+"
_FLAGGED = re.compile(_RUN)
#: A TOML string (basic or literal, one line or several) or comment, matched whole, for a
#: scanner that must not read into them (a pattern for ``re.VERBOSE | re.DOTALL``).
#: Possessive: a loop of alternatives keeps no state per character, so a string of
#: megabytes costs no memory (a plain loop kept about 150 bytes a character).
STRINGS_AND_COMMENTS = r"""(?<!\\)\"\"\"(?:[^"\\]|\\.|"(?!""))*+\"\"\""{0,2}
    | '''.*?''''{0,2} | (?<!\\)"(?:[^"\\\n]|\\.)*+" | '[^'\n]*+' | \#[^\n]*+"""
# A run of parts, or a string or comment passed over whole. The run is tried first: a quoted
# first part is a key's, not a string value's.
_TOKENS = re.compile(rf"(?P<run>{_RUN}) | {STRINGS_AND_COMMENTS}", re.VERBOSE | re.DOTALL)


def deep_key_reason(text: str) -> str | None:
    """Why ``text`` is refused before it is parsed (its line and the key's parts), or None."""
    found = deep_dotted_key(text)
    if found is None:
        return None
    return (f"line {found[0]}: a dotted key or table header of {found[1]} parts nests more "
            f"than {MAX_KEY_PARTS} tables deep")


def deep_dotted_key(text: str) -> tuple[int, int] | None:
    """The line of the first dotted key or table header of more than :data:`MAX_KEY_PARTS`
    parts, and how many it has; None when there is none (nearly every file, told by one
    search)."""
    if _FLAGGED.search(text) is None:
        return None
    for found in _TOKENS.finditer(text):
        if found["run"] is not None:
            parts = len(re.findall(rf"{_PART}", found["run"]))
            return text.count("\n", 0, found.start()) + 1, parts
    return None
