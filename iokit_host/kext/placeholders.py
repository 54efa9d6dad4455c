"""Build-setting placeholders in source-tree Info.plists (Xcode's Info.plist expansion).

Kext plists in source trees keep placeholders that Xcode expands at build time:
``$(PRODUCT_BUNDLE_IDENTIFIER)``, ``${MODULE_VERSION}``, ``$MODULE_VERSION``,
``$(PRODUCT_NAME:rfc1034identifier)``, and, for plists run through the C preprocessor
(``INFOPLIST_PREPROCESS``), bare macro names such as ``APPLEUSBHUB_VERSION``. A real kernel
never sees them; here they are found, reported, and substituted when the caller supplies
``defines`` (NAME -> VALUE), applying Xcode's modifiers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Expansion", "expand", "find_placeholders", "looks_like_macro"]

# $(NAME), ${NAME}, $(NAME:mod), ${NAME:mod,mod}, $NAME, ###NAME###
_PLACEHOLDER = re.compile(
    r"\$\((?P<p>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<pm>[A-Za-z0-9_,]+))?\)"
    r"|\$\{(?P<b>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<bm>[A-Za-z0-9_,]+))?\}"
    r"|\$(?P<s>[A-Za-z_][A-Za-z0-9_]*)"
    r"|###(?P<h>[A-Za-z_][A-Za-z0-9_]*)###"
)
_MACRO = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+")


def _rfc1034(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", value)


def _identifier(value: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", value)
    return f"_{text}" if text[:1].isdigit() else text


_MODIFIERS: Mapping[str, Callable[[str], str]] = {
    "rfc1034identifier": _rfc1034,
    "identifier": _identifier,
    "c99extidentifier": _identifier,
    "lower": str.lower,
    "upper": str.upper,
}


@dataclass(frozen=True, slots=True)
class Expansion:
    """The result of expanding one string: the text and the names left unresolved."""

    text: str
    names: tuple[str, ...]
    unresolved: tuple[str, ...]


def find_placeholders(text: str) -> tuple[str, ...]:
    """The build-setting names referenced in ``text`` (in order, without duplicates)."""
    names = [_name(m) for m in _PLACEHOLDER.finditer(text)]
    return tuple(dict.fromkeys(names))


def looks_like_macro(text: str) -> bool:
    """A whole value that is a bare preprocessor macro name (``APPLEUSBHUB_VERSION``)."""
    return _MACRO.fullmatch(text) is not None


def _name(match: re.Match[str]) -> str:
    return match.group("p") or match.group("b") or match.group("s") or match.group("h")


#: How deep a define may refer to another (Xcode expands build settings recursively), and the
#: longest text an expansion may grow to: ``A=$(B)$(B)``, ``B=$(C)$(C)``... doubles each step.
MAX_NESTING = 16
MAX_EXPANDED = 4096


def expand(text: str, defines: Mapping[str, str], *, bare_macros: bool = False) -> Expansion:
    """Substitute every placeholder whose name is in ``defines``; report the rest.

    A define's value may hold placeholders itself; they are expanded in turn, as Xcode
    expands build settings. A name that refers back to itself (directly or not), nests past
    :data:`MAX_NESTING` or grows past :data:`MAX_EXPANDED` is left in place and reported.
    With ``bare_macros`` (bundle identity and version keys only, where an all-caps token is
    never a real value), a whole value that is a preprocessor macro name counts too.
    """
    names: list[str] = []
    unresolved: list[str] = []
    result = _expand(text, defines, (), names, unresolved)
    if bare_macros and not names and looks_like_macro(text):
        names.append(text)
        if text in defines:
            result = defines[text]
        else:
            unresolved.append(text)
    return Expansion(result, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(unresolved)))


def _expand(text: str, defines: Mapping[str, str], within: tuple[str, ...],
            names: list[str], unresolved: list[str]) -> str:
    """``text`` with its placeholders substituted; ``within`` the names being expanded."""

    def replace(match: re.Match[str]) -> str:
        name = _name(match)
        names.append(name)
        if name not in defines or name in within or len(within) >= MAX_NESTING:
            unresolved.append(name)
            return match.group(0)
        value = _expand(defines[name], defines, (*within, name), names, unresolved)
        for modifier in (match.group("pm") or match.group("bm") or "").split(","):
            value = _MODIFIERS.get(modifier, _keep)(value) if modifier else value
        return value

    result = _PLACEHOLDER.sub(replace, text)
    if len(result) > MAX_EXPANDED:
        unresolved.extend(find_placeholders(text) or ("(expansion too long)",))
        return text
    return result


def _keep(value: str) -> str:
    return value
