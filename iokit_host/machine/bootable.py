"""What the model file format refuses that a model made in code or imported could still hold,
checked before such a model boots (IOKit's own rules: ``IOService::setPlatform`` attaches
IOResources to the platform device; ``IOServiceGetBusyState`` counts in 32 bits;
``IORegistryEntry::makePlane`` takes a name).

``iokit machine import`` writes a model and reads it back, so the file format's checks
(:mod:`.document`) judge it; ``iokit boot --machine`` builds the imported model directly. So
that both give the same verdict with the same diagnostic (reference, node, key, reason,
hint), :func:`check_bootable` refuses, as the file reader does, an IOResources nub away from
the platform device, a busy count outside 0..2**31-1 and a plane (or a link's plane) without a
name.
"""

from __future__ import annotations

from typing import NoReturn

from iokit_sdk.keys import RESOURCES_CLASS

from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import MachineModel, NubSpec
from iokit_host.machine.nodes import spec_components, spelt_path

__all__ = ["BUSY_MESSAGE", "MAX_BUSY", "RESOURCES_HINT", "RESOURCES_MESSAGE",
           "check_bootable"]

#: The largest busy count (``IOServiceGetBusyState``'s is a 32-bit int).
MAX_BUSY = (1 << 31) - 1
RESOURCES_MESSAGE = "IOResources must be a child of the root"
RESOURCES_HINT = ("IOKit attaches IOResources directly under the platform-expert device "
                  "(setPlatform)")
BUSY_MESSAGE = f"expected a busy count from 0 to {MAX_BUSY}"


def check_bootable(model: MachineModel) -> None:
    """Refuse what the file format would refuse (see the module doc), naming it as the
    file reader names it.

    :raises MachineModelError: the first such nub or plane.
    """
    for number, plane in enumerate(model.planes):
        if not plane:
            _fail(model, E.BAD_VALUE, "must not be empty", None, f"machine.planes[{number}]")
    # Explicit stack: imported models nest deeper than Python's recursion allows. Each nub
    # is kept with the position of its parent, to spell its path only for an error.
    seen: list[tuple[NubSpec, int]] = []
    stack: list[tuple[NubSpec, int, int]] = [(model.root, -1, 0)]
    while stack:
        nub, parent, depth = stack.pop()
        seen.append((nub, parent))
        here = len(seen) - 1
        if nub.class_name == RESOURCES_CLASS and depth >= 2:
            _fail(model, E.RESOURCES_PLACEMENT, RESOURCES_MESSAGE, _path(seen, here), "parent",
                  RESOURCES_HINT)
        key = _bad_key(nub)
        if key is not None:
            _fail(model, E.BAD_VALUE, _message(key), _path(seen, here), key)
        stack.extend((child, here, depth + 1) for child in reversed(nub.children))
    for number, entry in enumerate(model.entries):
        key = _bad_key(entry)
        if key is not None:
            _fail(model, E.BAD_VALUE, _message(key), f"entry[{number}]", key)


def _bad_key(nub: NubSpec) -> str | None:
    """The key of the nub's first value the file format refuses: a link's empty plane
    name (``planes[2].plane``), its record's busy count; None when none is."""
    for number, link in enumerate(nub.planes):
        if not link.plane:
            return f"planes[{number}].plane"
    if nub.record is not None and not 0 <= nub.record.busy <= MAX_BUSY:
        return "record.busy"
    return None


def _message(key: str) -> str:
    return BUSY_MESSAGE if key == "record.busy" else "must not be empty"


def _path(seen: list[tuple[NubSpec, int]], at: int) -> str:
    chain: list[NubSpec] = []
    while at >= 0:
        nub, at = seen[at]
        chain.append(nub)
    chain.reverse()
    return spelt_path(spec_components(chain))


def _fail(model: MachineModel, reference: str, message: str, node: str | None, key: str,
          hint: str | None = None) -> NoReturn:
    raise MachineModelError(message, reference=reference, file=model.source, node=node,
                            key=key, hint=hint)
