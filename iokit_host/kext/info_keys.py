"""The types of an Info.plist's optional keys (what ``OSKext`` and the kext tools cast them to).

The kernel reads each key of a kext's info dictionary with ``OSDynamicCast``: a value of
another type reads as absent (a string ``OSBundleIsInterface`` is not ``true``, an array
``OSBundleCompatibleVersion`` leaves the kext no library). So an optional key of the wrong
type costs only itself: it is dropped with a warning naming the file, the key, what it takes
and what it got. A key this table does not know may hold anything the kernel can hold; one
holding a ``<real>``, a ``<date>`` or a non-string key (:mod:`iokit_host.kext.plist_types`)
is dropped the same way. The required keys (``CFBundleIdentifier``, ``CFBundleVersion``) and
those with readers of their own (``OSBundleLibraries``, ``OSBundleRequired``,
``IOKitPersonalities``) are checked by those readers, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk import keys

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext.plist_types import KeyType, describe, find_unsupported, is_integer

__all__ = ["OWN_READERS", "check_optional_keys"]


def _is_string(value: object) -> bool:
    return isinstance(value, str)


_STRING = KeyType("manifest-ill-typed-key", "a string", _is_string, "write <string>…</string>")
_BOOLEAN = KeyType("manifest-ill-typed-boolean", "a boolean", lambda v: isinstance(v, bool),
                    "write <true/> or <false/>")
_INTEGER = KeyType("manifest-ill-typed-key", "an integer", is_integer,
                   "write <integer>…</integer>")

#: Keys checked by readers of their own in :mod:`iokit_host.kext.manifest`.
OWN_READERS = frozenset({keys.BUNDLE_IDENTIFIER, keys.BUNDLE_VERSION, keys.BUNDLE_LIBRARIES,
                         keys.BUNDLE_REQUIRED, keys.KIT_PERSONALITIES})

_TYPES: Mapping[str, KeyType] = {
    **dict.fromkeys((
        keys.BUNDLE_COMPATIBLE_VERSION, keys.BUNDLE_EXECUTABLE, keys.BUNDLE_NAME,
        "CFBundlePackageType", "CFBundleShortVersionString", "CFBundleSignature",
        "CFBundleDevelopmentRegion", "CFBundleInfoDictionaryVersion", "CFBundleGetInfoString",
        "CFBundleIconFile", "NSHumanReadableCopyright", "OSBundleUsageDescription"), _STRING),
    **dict.fromkeys((
        keys.BUNDLE_IS_INTERFACE, keys.KERNEL_RESOURCE, "OSBundleAllowUserLoad",
        "OSBundleRequireExplicitLoad", "OSBundleEnableKextLogging"), _BOOLEAN),
    "OSBundleDebugLevel": _INTEGER,
}


def _base_key(key: str, arch: str) -> str:
    """The key an ``OS*``/``IO*`` ``<Key>_<arch>`` override stands for (§5.1), else ``key``."""
    suffix = f"_{arch}"
    if key.startswith(("OS", "IO")) and key.endswith(suffix):
        return key[:-len(suffix)]
    return key


def check_optional_keys(info: Mapping[str, Any], *, arch: str, file: str | None,
                        subject: str | None = None) -> tuple[dict[str, Any], list[Diagnostic]]:
    """``info`` without its ill-typed optional keys, and a warning for each one dropped."""
    kept: dict[str, Any] = {}
    found: list[Diagnostic] = []
    for key, value in info.items():
        base = _base_key(key, arch)
        if base in OWN_READERS:
            kept[key] = value
            continue
        problem = _problem(key, base, value)
        if problem is None:
            kept[key] = value
            continue
        reference, expected, got, hint = problem
        found.append(Diagnostic(
            reference, f"{key} is {got}, expected {expected}; the kernel reads it as absent, "
            "so it is dropped", file=file, key=key, hint=hint, subject=subject,
            severity=Severity.WARNING,
            context={"expected": expected, "got": got}))
    return kept, found


def _problem(key: str, base: str, value: Any) -> tuple[str, str, str, str] | None:
    typed = _TYPES.get(base)
    if typed is not None:
        if typed.accepts(value):
            return None
        return typed.reference, typed.expected, describe(value), typed.hint
    bad = find_unsupported(value, key)
    if bad is None:
        return None
    return ("manifest-unsupported-value", "a value the kernel can hold (no real, date or UID)",
            f"{bad.got} at {bad.path}",
            "use <integer>, <string>, <data>, <true/>/<false/>, <array> or <dict>")
