"""Personality checks and fix-ups (``OSKext::copyPersonalitiesArray``, ``uniquePersonalityProperties``).

Before a kext's personalities reach the catalogue the kernel fills in ``CFBundleIdentifier``
(the kext's id when absent), sets ``IOPersonalityPublisher`` when the personality names another
bundle (the codeless-kext case), and defaults ``CFBundleIdentifierKernel`` to the personality's
``CFBundleIdentifier``. Ill-typed values are not refused by the kernel, only read differently
(a string ``IOProbeScore`` counts as 0, a ``"YES"`` string is not ``true``), so they are reported
here as warnings and left as written, for matching to read exactly as IOKit would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk import keys

from iokit_host.errors import Diagnostic, Severity

__all__ = ["fix_up_personalities"]

#: Personality keys IOKit reads as OSNumber (OSDynamicCast fails for anything else).
_NUMBER_KEYS = frozenset({
    keys.PROBE_SCORE, "idVendor", "idProduct", "bcdDevice", "bConfigurationValue",
    "bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol",
    "bDeviceClass", "bDeviceSubClass", "bDeviceProtocol", keys.KIT_DEBUG,
})
#: Personality keys IOKit reads as OSBoolean.
_BOOLEAN_KEYS = frozenset({keys.PCI_TUNNEL_COMPATIBLE, keys.MATCH_DEFER})
_STRING_KEYS = frozenset({keys.PROVIDER_CLASS, keys.CLASS, keys.MATCH_CATEGORY,
                          keys.BUNDLE_IDENTIFIER, keys.USER_CLIENT_CLASS})
_CHECKED_KEYS = _NUMBER_KEYS | _BOOLEAN_KEYS | _STRING_KEYS


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
            "manifest-bad-personalities", f"{key} is a {_type(raw)}, not a dictionary",
            file=file, key=key, subject=bundle_id, severity=Severity.WARNING,
            hint="make IOKitPersonalities a <dict> of personality name -> <dict>; "
                 "the kext publishes no personalities until then")]
    result: dict[str, dict[str, Any]] = {}
    found: list[Diagnostic] = []
    for name, personality in raw.items():
        where = f"{key}.{name}"
        if not isinstance(personality, Mapping):
            found.append(Diagnostic(
                "personality-not-a-dictionary", f"personality {name!r} is a {_type(personality)}",
                file=file, key=where, subject=bundle_id, severity=Severity.WARNING,
                hint="each IOKitPersonalities entry must be a <dict>; this one is skipped"))
            continue
        found += _check(personality, where, bundle_id, file)
        result[str(name)] = _fix_up(dict(personality), bundle_id)
    return result, found


def _fix_up(personality: dict[str, Any], bundle_id: str) -> dict[str, Any]:
    published_by = personality.setdefault(keys.BUNDLE_IDENTIFIER, bundle_id)
    if published_by != bundle_id:
        personality[keys.PERSONALITY_PUBLISHER] = bundle_id
    if keys.BUNDLE_IDENTIFIER_KERNEL not in personality:
        personality[keys.BUNDLE_IDENTIFIER_KERNEL] = published_by
    return personality


def _check(personality: Mapping[str, Any], where: str, bundle_id: str,
           file: str | None) -> list[Diagnostic]:
    found: list[Diagnostic] = []

    def warn(reference: str, message: str, key: str, hint: str) -> None:
        found.append(Diagnostic(reference, message, file=file, key=f"{where}.{key}",
                                hint=hint, subject=bundle_id, severity=Severity.WARNING))

    if keys.PROVIDER_CLASS not in personality:
        warn("personality-missing-provider-class", "personality has no IOProviderClass",
             keys.PROVIDER_CLASS, "IOCatalogue silently drops a personality without "
             "IOProviderClass; name the provider's class, e.g. IOPCIDevice")
    for key in sorted(personality.keys() & _CHECKED_KEYS):
        value = personality[key]
        if key in _NUMBER_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
            warn("personality-ill-typed-number", f"{key} is a {_type(value)} ({value!r}), "
                 "which IOKit reads as 0", key, f"write <integer>{_digits(value)}</integer>")
        elif key in _BOOLEAN_KEYS and not isinstance(value, bool):
            warn("personality-ill-typed-boolean", f"{key} is a {_type(value)} ({value!r}), "
                 "which IOKit reads as false", key, "write <true/> or <false/>")
        elif key in _STRING_KEYS and not isinstance(value, str):
            warn("personality-ill-typed-string", f"{key} is a {_type(value)}, not a string",
                 key, "write <string>…</string>")
    return found


def _digits(value: object) -> str:
    text = str(value).strip()
    return text if text.isdigit() else "…"


def _type(value: object) -> str:
    names = {str: "string", bool: "boolean", int: "integer", float: "real", bytes: "data",
             list: "array", dict: "dictionary"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)
