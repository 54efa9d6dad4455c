"""Refusals: what a boot set aside, counted from the diagnostics it printed (``OSKext`` and
``IOCatalogue`` refusing a kext or a personality).

The kernel refuses at three levels, and each refusal is reported once, with a reason:

- a **manifest** that cannot be read or validated (unreadable or missing plist, no bundle id,
  a build placeholder in an identity key): the kext never exists (``manifest-*`` errors);
- a **kext** that cannot load: a library missing or incompatible, a dependency cycle, code that
  fails to import (``kext-*`` errors);
- a **personality** the kext cannot publish: not a dictionary, no class, a value the kernel has
  no type for in a matching key. The kext still loads; the diagnostic is a warning, and it is a
  refusal exactly when that personality is missing from what the kext publishes.

The count is of refused *things*, not lines: a manifest with two errors is one refusal, and a
personality refused inside a kext that was refused as a whole is not counted again. Because it is
computed from the diagnostics themselves, the summary line and the diagnostics printed under it
always agree, whichever part of the host reported them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from iokit_sdk import keys

from iokit_host.errors import Diagnostic, Severity

__all__ = ["Publishes", "count_refusals", "personality_published", "refused_items"]

#: References of the readers and loaders that refuse a whole kext when they report an error
#: (``plist-*``: the manifest's shape, too deep or too large, refuses it as a whole).
_KEXT_LEVEL = ("manifest-", "kext-", "plist-")

#: ``publishes(bundle_id, key)``: True when the kext ``bundle_id`` was accepted and publishes
#: the personality ``key`` (``IOKitPersonalities.<name>...``) names; False when it was accepted
#: and does not; None when no such kext was accepted (its own refusal covers it).
Publishes = Callable[[str, str], bool | None]


def refused_items(diagnostics: Iterable[Diagnostic], publishes: Publishes) -> list[str]:
    """One label per refused manifest, kext or personality, in the order first reported."""
    items: dict[str, None] = {}
    for diagnostic in diagnostics:
        label = _refusal(diagnostic, publishes)
        if label is not None:
            items.setdefault(label, None)
    return list(items)


def count_refusals(diagnostics: Iterable[Diagnostic], publishes: Publishes) -> int:
    return len(refused_items(diagnostics, publishes))


def _refusal(diagnostic: Diagnostic, publishes: Publishes) -> str | None:
    if diagnostic.severity is Severity.ERROR and diagnostic.reference.startswith(_KEXT_LEVEL):
        return f"kext {diagnostic.file or diagnostic.subject or diagnostic.message}"
    key, subject = diagnostic.key, diagnostic.subject
    if key is None or subject is None or not key.startswith(keys.KIT_PERSONALITIES):
        return None
    if publishes(subject, key) is False:
        return f"personality {subject} {_personality_of(key)}"
    return None


def _personality_of(key: str) -> str:
    """``IOKitPersonalities.Name.IOClass`` -> ``IOKitPersonalities.Name`` (the arch-suffixed
    ``IOKitPersonalities_x86_64`` too); the whole table for the bare key."""
    head, _, rest = key.partition(".")
    return f"{head}.{rest.partition('.')[0]}" if rest else head


def personality_published(key: str, names: Iterable[str]) -> bool:
    """True when ``key`` lies inside one of the personalities ``names`` (names may hold dots).

    The bare ``IOKitPersonalities`` key (the whole table refused) lies in none.
    """
    rest = key.partition(".")[2]
    if not rest:
        return False
    return any(rest == name or rest.startswith(f"{name}.") for name in names)
