"""Rematching after a dext crashes: ``IORematchPersonality``, ``IORematchCount`` (IOService.cpp
``terminatePhase1``, ``probeCandidates``; the ``dextrelaunch`` boot-arg).

When a dext's server dies, IOKit terminates each service it had started with rematch of the
current dext: the provider is given the crashed service's ``IOMatchedPersonality`` as
``IORematchPersonality``, and ``IORematchCount`` (0 the first time, one more on each later
crash: crashes - 1). The next matching pass on that provider consumes the personality: while
the count is at most ``dextrelaunch`` (1000 by default; ``IOKIT_DEXT_RELAUNCH_MAX`` here) only
that very personality may match (no other dext, no kext), so the same dext is relaunched;
past it, that personality is excluded and the others may match. With ``dextrelaunch`` = 0 no
dext rematches after a crash. ``IODEXTMatchCount`` on the provider counts the dext personalities
of the pass. Only dexts record ``IOMatchedPersonality``, so an isolated kext's crash rematches
every candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = [
    "DEFAULT_RELAUNCH_MAX",
    "DEXT_MATCH_COUNT",
    "MATCHED_PERSONALITY",
    "REMATCH_COUNT",
    "REMATCH_PERSONALITY",
    "count_dext_matches",
    "matched_personality",
    "record_rematch",
    "rematch_candidates",
]

REMATCH_PERSONALITY = "IORematchPersonality"
REMATCH_COUNT = "IORematchCount"
DEXT_MATCH_COUNT = "IODEXTMatchCount"
MATCHED_PERSONALITY = "IOMatchedPersonality"
#: ``gIODextRelaunchMax`` outside the restore environment.
DEFAULT_RELAUNCH_MAX = 1000


def matched_personality(personality: Mapping[str, Any]) -> dict[str, Any]:
    """The personality as ``IOMatchedPersonality`` records it: the instance's copy without
    what matching added to it (``IONameMatched``)."""
    return {k: v for k, v in personality.items() if k != keys.NAME_MATCHED}


def record_rematch(victim: IOService) -> None:
    """``terminatePhase1`` with ``kIOServiceTerminateWithRematchCurrentDext``: give the
    victim's provider its matched personality and count the rematch."""
    personality = victim.get_property(MATCHED_PERSONALITY)
    provider = victim.get_provider()
    if not isinstance(personality, dict) or provider is None or provider.is_inactive():
        return
    count = provider.get_property(REMATCH_COUNT)
    number = int(count) + 1 if isinstance(count, int) and not isinstance(count, bool) else 0
    provider.set_property(REMATCH_COUNT, OSNumber(number & 0xFFFFFFFF, 32))
    provider.set_property(REMATCH_PERSONALITY, personality)


def rematch_candidates(kernel: WorkLoop, nub: IOService, candidates: Sequence[CatalogueEntry]
                       ) -> tuple[list[CatalogueEntry], str | None]:
    """The candidates a pass on ``nub`` may consider, and, when it is a rematch after a crash
    (``IORematchPersonality`` was there: this pass consumes it), why the others may not."""
    personality = nub.get_property(REMATCH_PERSONALITY)
    if not isinstance(personality, dict):
        return list(candidates), None
    nub.remove_property(REMATCH_PERSONALITY)
    count = nub.get_property(REMATCH_COUNT)
    count = int(count) if isinstance(count, int) and not isinstance(count, bool) else 0
    from iokit_host.dext.manager import manager_for

    limit = manager_for(kernel).relaunch_max
    kept: list[CatalogueEntry] = []
    for entry in candidates:
        if limit == 0 and keys.USER_SERVER_NAME in entry.table:
            continue  # dextrelaunch=0: dexts never rematch after a crash
        same = _recorded(entry) == personality
        if count > limit:
            same = not same  # relaunched too often: every personality but that one
        if same:
            kept.append(entry)
    if count > limit:
        why = (f"a rematch after a dext crashed: IORematchCount {count} is past the relaunch "
               f"limit ({limit}), so the crashed personality is excluded")
    else:
        why = (f"a rematch after a dext crashed (IORematchCount {count}): only the crashed "
               "personality (IORematchPersonality) may match"
               + (", and no dext may (relaunch limit 0)" if limit == 0 else ""))
    return kept, why


def _recorded(entry: CatalogueEntry) -> dict[str, Any]:
    """What ``IOMatchedPersonality`` holds for a service ``entry`` made: the personality as
    the instance was given it (with its match category)."""
    return matched_personality({**entry.table, keys.MATCH_CATEGORY: entry.category})


def count_dext_matches(nub: IOService, matched: Sequence[CatalogueEntry], rematch: bool) -> None:
    """``IODEXTMatchCount``: the dext personalities that matched ``nub`` in this pass; removed
    by a rematch pass that had none."""
    count = sum(1 for entry in matched if keys.USER_SERVER_NAME in entry.table)
    if count:
        nub.set_property(DEXT_MATCH_COUNT, OSNumber(count, 32))
    elif rematch and nub.has_property(DEXT_MATCH_COUNT):
        nub.remove_property(DEXT_MATCH_COUNT)
