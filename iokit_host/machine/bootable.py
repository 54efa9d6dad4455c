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

from iokit_sdk.keys import RESOURCES_CLASS, SERVICE_PLANE

from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.links import MAX_SHOWN, overfull_link
from iokit_host.machine.model import MachineModel, NubSpec
from iokit_host.machine.nodes import node_path, nub_label

__all__ = ["BUSY_MESSAGE", "LOOP_HINT", "MAX_BUSY", "RESOURCES_HINT", "RESOURCES_MESSAGE", "SHOWN_HINT",
           "check_bootable", "nub_where"]

#: The largest busy count (``IOServiceGetBusyState``'s is a 32-bit int).
MAX_BUSY = (1 << 31) - 1
RESOURCES_MESSAGE = "IOResources must be a child of the root"
RESOURCES_HINT = ("IOKit attaches IOResources directly under the platform-expert device "
                  "(setPlatform)")
SHOWN_HINT = ("give a nub a second parent only where the Mac's registry does; an entry's "
              "subtree is shown once per path down to it")
LOOP_HINT = ("a plane is a tree (or a DAG): link a nub under an ancestor or a sibling, never "
             "under itself or its descendants")
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
    _check_plane_sizes(model, seen)


def nub_where(model: MachineModel, spec: NubSpec) -> str | None:
    """What the file reader would call ``spec`` (the first place it holds it): ``nub[N] path``
    by its pre-order position, or ``entry[N]``; for an error found while building."""
    for number, entry in enumerate(model.entries):
        if entry is spec:
            return f"entry[{number}]"
    seen: list[tuple[NubSpec, int]] = []
    stack: list[tuple[NubSpec, int]] = [(model.root, -1)]
    while stack:
        nub, parent = stack.pop()
        seen.append((nub, parent))
        if nub is spec:
            return _path(seen, len(seen) - 1)
        stack.extend((child, len(seen) - 1) for child in reversed(nub.children))
    return None  # not in the model: no place to name


def _check_plane_sizes(model: MachineModel, seen: list[tuple[NubSpec, int]]) -> None:
    """Refuse, as the file reader does, extra parents that show a plane along too many
    paths (:func:`~iokit_host.machine.links.overfull_link`)."""
    nodes = [nub for nub, _ in seen] + list(model.entries)
    index = {nub.id: at for at, nub in enumerate(nodes) if nub.id is not None}
    planes: dict[str, dict[int, list[tuple[int, int]]]] = {}
    for at, nub in enumerate(nodes):
        for number, link in enumerate(nub.planes):
            if link.parent in index:
                edges = planes.setdefault(link.plane, {})
                edges.setdefault(at, []).append((index[link.parent], number))
    for plane, edges in planes.items():
        if plane == SERVICE_PLANE:
            for at, (_, parent) in enumerate(seen):
                if parent >= 0:
                    edges.setdefault(at, []).append((parent, -1))
        found = overfull_link(edges)
        if found is not None:
            at, number = found
            node = _path(seen, at) if at < len(seen) else f"entry[{at - len(seen)}]"
            _fail(model, E.TOO_LARGE, f"plane {plane} would show more than {MAX_SHOWN} "
                  "entries: each is shown again under each parent, and the extra parents "
                  "above this nub multiply them", node,
                  "parent" if number < 0 else f"planes[{number}].parent", SHOWN_HINT)


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
    """The nub's label as the file reader gives it: its pre-order position is its
    ``[[nub]]`` table's in the file ``iokit machine import`` writes (see ``writer``)."""
    here = at
    chain: list[NubSpec] = []
    while at >= 0:
        nub, at = seen[at]
        chain.append(nub)
    chain.reverse()
    return nub_label(here, node_path(chain))


def _fail(model: MachineModel, reference: str, message: str, node: str | None, key: str,
          hint: str | None = None) -> NoReturn:
    raise MachineModelError(message, reference=reference, file=model.source, node=node,
                            key=key, hint=hint)
