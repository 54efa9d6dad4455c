"""Personality checks and fix-ups (``OSKext::copyPersonalitiesArray``, ``uniquePersonalityProperties``).

Before a kext's personalities reach the catalogue the kernel fills in ``CFBundleIdentifier``
(the kext's id when absent), sets ``IOPersonalityPublisher`` when the personality names another
bundle (the codeless-kext case), and defaults ``CFBundleIdentifierKernel`` to the personality's
``CFBundleIdentifier``.

A value of the wrong type costs what it costs the kernel, and no more; each is a warning naming
the file, the personality and the key, what the key takes and what it got:

- ``IOProviderClass`` or ``IOClass`` not a string: the catalogue cannot index the personality,
  or no class can be allocated for it, so that personality alone is refused
  (``personality-ill-typed-class``).
- A key the kernel reads with ``OSDynamicCast`` (``IOProbeScore``, ``IOMatchCategory``,
  ``IOKitDebug``, ``IOMatchDefer``, ...) reads as absent when of another type (a string
  ``IOProbeScore`` counts as 0, ``"YES"`` is not ``true``); the key is dropped, which changes
  nothing the kernel would do (``personality-ill-typed-number`` / ``-boolean`` / ``-string`` /
  ``-dictionary``). A non-string ``CFBundleIdentifier`` is then the kext's, as in the kernel.
- A matching key of the wrong type or with a malformed value is kept, so it never matches as
  in IOKit, and reported (:mod:`iokit_host.kext.match_key_types`).
- A value the kernel has no type for (``<real>``, ``<date>``: :mod:`iokit_host.kext.plist_types`)
  could never become a driver property: the key holding it is dropped; in a matching key the
  personality could never match, so it is refused (``personality-unsupported-value``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from iokit_sdk import keys

from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.kext.match_key_types import MATCH_KEYS, check_match_keys
from iokit_host.kext.plist_types import KeyType, describe, find_unsupported, is_integer

__all__ = ["fix_up_personalities"]

PROVIDER_PARENT_MERGE_PROPERTIES = "IOProviderParentUSBNubMergeProperties"


_NUMBER = KeyType("personality-ill-typed-number", "an integer", is_integer,
                   "write <integer>…</integer>")
#: (A class, category or bundle name holding NUL is no C string: it names nothing.)
_STRING = KeyType("personality-ill-typed-string", "a string without NUL",
                   lambda v: isinstance(v, str) and "\0" not in v, "write <string>…</string>")
_BOOLEAN = KeyType("personality-ill-typed-boolean", "a boolean",
                    lambda v: isinstance(v, bool), "write <true/> or <false/>")
_DICTIONARY = KeyType("personality-ill-typed-dictionary", "a dictionary",
                       lambda v: isinstance(v, Mapping), "write <dict>…</dict>")

#: Keys the kernel reads with ``OSDynamicCast`` and treats as absent when of another type.
_KEY_TYPES: Mapping[str, KeyType] = {
    keys.PROBE_SCORE: _NUMBER, keys.KIT_DEBUG: _NUMBER,
    **dict.fromkeys((keys.MATCH_CATEGORY, keys.USER_CLIENT_CLASS, keys.BUNDLE_IDENTIFIER,
                     keys.BUNDLE_IDENTIFIER_KERNEL, keys.PERSONALITY_PUBLISHER,
                     keys.USER_SERVER_NAME, keys.USER_CLASS), _STRING),
    keys.PCI_TUNNEL_COMPATIBLE: _BOOLEAN, keys.MATCH_DEFER: _BOOLEAN,
    keys.PROVIDER_MERGE_PROPERTIES: _DICTIONARY, PROVIDER_PARENT_MERGE_PROPERTIES: _DICTIONARY,
}
#: Keys without which (as strings) the personality cannot be matched or instantiated.
_CLASS_KEYS = (keys.PROVIDER_CLASS, keys.CLASS)
_JUDGED = frozenset({*_KEY_TYPES, *_CLASS_KEYS})


#: The type each judged key takes when well typed: ``judge`` keeps such a value unreported.
_WELL_TYPED: Mapping[str, type] = {
    **{key: str for key in _CLASS_KEYS},
    **{key: {_NUMBER: int, _STRING: str, _BOOLEAN: bool, _DICTIONARY: dict}[typed]
       for key, typed in _KEY_TYPES.items()},
}


def _well_typed(key: str, value: object) -> bool:
    """True for a judged key whose value ``judge`` keeps without a word (a kernel value of
    exactly the type the key takes); False sends it to ``judge``, which decides."""
    typed = _WELL_TYPED[key]
    return type(value) is typed and (typed is not str or "\0" not in value)  # type: ignore[operator]


class _Verdict(Enum):
    KEEP = "keep"
    DROP = "drop"
    REFUSE = "refuse"


def fix_up_personalities(
    raw: object, bundle_id: str, *, file: str | None, key: str = keys.KIT_PERSONALITIES,
) -> tuple[dict[str, dict[str, Any]], list[Diagnostic]]:
    """Validate ``IOKitPersonalities`` and apply the kernel's fix-ups.

    Returns the personalities to publish (name -> dictionary) and the warnings found.
    """
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [Diagnostic(
            "manifest-bad-personalities", f"{key} is {describe(raw)}, expected a dictionary",
            file=file, key=key, subject=bundle_id, severity=Severity.WARNING,
            hint="make IOKitPersonalities a <dict> of personality name -> <dict>; "
                 "the kext publishes no personalities until then",
            context={"expected": "a dictionary", "got": describe(raw)})]
    result: dict[str, dict[str, Any]] = {}
    found: list[Diagnostic] = []
    for name, personality in raw.items():
        where = f"{key}.{name}"
        if not isinstance(personality, Mapping):
            found.append(Diagnostic(
                "personality-not-a-dictionary",
                f"personality {quoted(name)} is {describe(personality)}, expected a dictionary",
                file=file, key=where, subject=bundle_id, severity=Severity.WARNING,
                hint="each IOKitPersonalities entry must be a <dict>; this one is skipped",
                context={"expected": "a dictionary", "got": describe(personality)}))
            continue
        checked = _Checker(where, bundle_id, file)
        table = checked.run(personality)
        found += checked.found
        if table is not None:
            result[str(name)] = _fix_up(table, bundle_id)
    return result, found


def _fix_up(personality: dict[str, Any], bundle_id: str) -> dict[str, Any]:
    published_by = personality.setdefault(keys.BUNDLE_IDENTIFIER, bundle_id)
    if published_by != bundle_id:
        personality[keys.PERSONALITY_PUBLISHER] = bundle_id
    if keys.BUNDLE_IDENTIFIER_KERNEL not in personality:
        personality[keys.BUNDLE_IDENTIFIER_KERNEL] = published_by
    return personality


@dataclass
class _Checker:
    """The checks of one personality: what it keeps, and the warnings found."""

    where: str
    bundle_id: str
    file: str | None
    found: list[Diagnostic] = field(default_factory=list)

    def warn(self, reference: str, message: str, key: str, hint: str,
             expected: str | None = None, got: str | None = None) -> None:
        context = {} if expected is None else {"expected": expected, "got": got}
        self.found.append(Diagnostic(reference, message, file=self.file,
                                     key=f"{self.where}.{key}", hint=hint,
                                     subject=self.bundle_id, severity=Severity.WARNING,
                                     context=context))

    def run(self, personality: Mapping[Any, Any]) -> dict[str, Any] | None:
        """The personality with ill-typed keys dropped, or None when it is refused."""
        table: dict[str, Any] = {}
        # One walk of the whole personality first: a real one almost never holds a value the
        # kernel cannot, and then no key needs its own walk.
        suspect = find_unsupported(personality, self.where) is not None
        for key, value in personality.items():
            if not suspect and (key not in _JUDGED or _well_typed(key, value)):
                table[key] = value  # a string key holding kernel values, of any type
                continue
            verdict = self.judge(key, value, suspect)
            if verdict is _Verdict.REFUSE:
                return None
            if verdict is _Verdict.KEEP:
                table[key] = value
        if keys.PROVIDER_CLASS not in table:
            self.warn("personality-missing-provider-class", "personality has no IOProviderClass",
                      keys.PROVIDER_CLASS, "IOCatalogue silently drops a personality without "
                      "IOProviderClass; name the provider's class, e.g. IOPCIDevice")
        for problem in check_match_keys(table):
            self.warn(problem.reference, problem.message, problem.key,
                      f"write {problem.expected}", problem.expected, problem.got)
        return table

    def judge(self, key: object, value: object, suspect: bool = True) -> _Verdict:
        if not isinstance(key, str) or "\0" in key:
            self.warn("personality-unsupported-value", f"a key is {describe(key)}, which "
                      "the kernel cannot hold (its keys are strings without NUL); it is "
                      "dropped", str(key), "write every <key> as text", "a string",
                      describe(key))
            return _Verdict.DROP
        bad = find_unsupported(value, key) if suspect else None
        if bad is not None:
            return self._unsupported(key, bad.path, bad.got)
        if key in _CLASS_KEYS and (not isinstance(value, str) or "\0" in value):
            self.warn("personality-ill-typed-class", f"{key} is {describe(value)}, expected a "
                      "string without NUL (a class name); the personality is not published", key,
                      "write <string>ClassName</string>", "a string", describe(value))
            return _Verdict.REFUSE
        typed = _KEY_TYPES.get(key)
        if typed is not None and not typed.accepts(value):
            self.warn(typed.reference, f"{key} is {describe(value)}, expected "
                      f"{typed.expected}; IOKit reads it as absent, so it is dropped", key,
                      typed.hint, typed.expected, describe(value))
            return _Verdict.DROP
        return _Verdict.KEEP

    def _unsupported(self, key: str, path: str, got: str) -> _Verdict:
        matching = key in MATCH_KEYS or key in _CLASS_KEYS
        outcome = ("this personality could never match, so it is not published" if matching
                   else f"{key} is dropped")
        self.warn("personality-unsupported-value", f"{path} is {got}, which the kernel "
                  f"cannot hold (no real, date or UID type); {outcome}", path,
                  "use <integer>, <string>, <data>, <true/>/<false/>, <array> or <dict>",
                  "a kernel value type", got)
        return _Verdict.REFUSE if matching else _Verdict.DROP
