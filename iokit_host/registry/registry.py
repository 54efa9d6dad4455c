"""IORegistry: the registry's planes, entry ids and links (xnu ``IORegistryEntry.cpp``, static side).

One :class:`IORegistry` per host. Its root is a plain ``IORegistryEntry`` named ``Root`` that
takes the first id, 0x100000100 (``kIORegistryIDReserved`` + 1); every other entry gets the next
id the first time it is attached to any parent, and ids are never reused. Links are ordered
arrays per plane, so an entry may have several parents; the first parent is the provider, and
children keep attach order, which is the order ioreg prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import STANDARD_PLANES

from iokit_host.errors import IOKitError

__all__ = ["REGISTRY_CYCLE", "REGISTRY_ID_RESERVED", "IORegistry", "RegistryError"]

REGISTRY_ID_RESERVED = (1 << 32) + 255
#: The reference of an attach refused because it would close a loop in a plane.
REGISTRY_CYCLE = "registry-cycle"


class RegistryError(IOKitError):
    reference = "registry-error"


class IORegistry:
    """Planes, ids and links of one registry.

    :param planes: planes to create beside the standard IOService, IOPower and IODeviceTree.
    """

    def __init__(self, planes: Iterable[str] = ()) -> None:
        self._last_id = REGISTRY_ID_RESERVED
        # Plane names in creation order (a dict: membership in constant time, so a model of
        # thousands of planes and links builds in linear time), and the root's property
        # listing them, extended in place rather than rebuilt per plane.
        self._planes: dict[str, None] = {}
        self._planes_property: dict[str, str] = {}
        self._by_id: dict[int, IORegistryEntry] = {}
        #: Bumped by every change of the registry's shape (a plane, an entry or a link made or
        #: removed), as xnu's ``gIORegistryGenerationCount``: a reader taking the registry in
        #: parts (a snapshot's) knows its parts fit together while it stays the same.
        #: Properties, names and service states are not counted (IOKit's is not either).
        self.generation = 0
        # Per plane, entries known to be linked up to the root through first parents; an
        # attach only adds links, so only a detach makes an entry known here stale.
        self._rooted: dict[str, dict[int, IORegistryEntry]] = {}
        self.root = IORegistryEntry(name="Root")
        self._assign_id(self.root)
        for plane in (*STANDARD_PLANES, *planes):
            self.make_plane(plane)

    # -- planes --------------------------------------------------------------------------
    def make_plane(self, name: str) -> None:
        """Create a plane by name (``makePlane``); creating an existing plane is a no-op."""
        if not name or not isinstance(name, str):
            raise RegistryError(f"a plane needs a non-empty name, not {name!r}")
        if name in self._planes:
            return
        self._planes[name] = None
        self.generation += 1
        self._planes_property[name] = name
        self.root._props["IORegistryPlanes"] = self._planes_property

    @property
    def planes(self) -> tuple[str, ...]:
        return tuple(self._planes)

    def has_plane(self, name: str) -> bool:
        return name in self._planes

    def _require_plane(self, plane: str) -> None:
        if plane not in self._planes:
            raise RegistryError(f"no plane named {plane!r}", key=plane,
                                hint=f"known planes: {', '.join(self._planes)}")

    # -- ids -----------------------------------------------------------------------------
    def _assign_id(self, entry: IORegistryEntry) -> None:
        self.generation += 1
        if entry._entry_id is None:
            self._last_id += 1
            entry._entry_id = self._last_id
        # An entry detached from everything and attached again keeps its id (ids are never
        # reused or reassigned) and becomes findable by it again.
        self._by_id[entry._entry_id] = entry

    def entry_for_id(self, entry_id: int) -> IORegistryEntry | None:
        return self._by_id.get(entry_id)

    def __len__(self) -> int:
        return len(self._by_id)

    # -- links ---------------------------------------------------------------------------
    def attach(self, child: IORegistryEntry, parent: IORegistryEntry, plane: str) -> None:
        """Link ``child`` under ``parent`` in ``plane`` (``attachToParent``); idempotent.

        :raises RegistryError: ``registry-cycle`` when ``child`` is ``parent`` or one of its
            ancestors in ``plane``: a plane is a tree (or a DAG), and every walk relies on it.
        """
        self._require_plane(plane)
        if child is parent or self._is_ancestor(child, parent, plane):
            raise RegistryError(
                f"attaching {child!r} under {parent!r} would make a loop in {plane}",
                key=plane, reference=REGISTRY_CYCLE,
                hint="an entry cannot sit below itself: attach a new entry as the child, "
                     "not the provider or one of its ancestors")
        self._assign_id(child)
        if child._parents is None:
            child._parents = {}
        parents = child._parents.get(plane)
        if parents is None:
            parents = child._parents[plane] = []
        elif parent in parents:
            return
        parents.append(parent)
        self.generation += 1
        if parent._children is None:
            parent._children = {}
        children = parent._children.get(plane)
        if children is None:
            parent._children[plane] = [child]
        else:
            children.append(child)

    @staticmethod
    def _is_ancestor(entry: IORegistryEntry, below: IORegistryEntry, plane: str) -> bool:
        """Whether ``entry`` is reached going up from ``below`` in ``plane`` (any parent)."""
        if not entry.get_child_entries(plane):
            return False  # a leaf is no one's ancestor: attaching new entries stays O(1)
        seen: set[int] = set()
        pending = [below]
        while pending:
            node = pending.pop()
            for parent in node.get_parent_entries(plane):
                if parent is entry:
                    return True
                if id(parent) not in seen:
                    seen.add(id(parent))
                    pending.append(parent)
        return False

    def detach(self, child: IORegistryEntry, parent: IORegistryEntry, plane: str) -> None:
        """Remove the ``parent``-``child`` link in ``plane`` (``detachFromParent``)."""
        self._rooted.pop(plane, None)
        self.generation += 1
        for links, other in ((child._parents, parent), (parent._children, child)):
            linked = links.get(plane) if links else None
            if not linked:
                continue
            if linked[-1] is other:  # the newest: termination detaches newest first, and
                linked.pop()         # a scan of a wide parent's children each time was
            elif other in linked:    # quadratic (70,000 children took minutes)
                linked.remove(other)
            else:
                continue
            if not linked and links is not None:
                del links[plane]

    def detach_all(self, entry: IORegistryEntry) -> None:
        """Remove every link of ``entry`` in every plane (its id stays taken)."""
        for plane in list(entry.planes()):
            for parent in entry.get_parent_entries(plane):
                self.detach(entry, parent, plane)
            for child in entry.get_child_entries(plane):
                self.detach(child, entry, plane)
        self._by_id.pop(entry._entry_id or -1, None)
        self.generation += 1

    # -- walking -------------------------------------------------------------------------
    def is_rooted(self, entry: IORegistryEntry, plane: str) -> bool:
        """Whether ``entry`` reaches the registry root going up first parents in ``plane``.

        Entries found rooted are remembered until the next detach in ``plane``, so checking
        each nub of a chain 100,000 deep as it registers costs linear time, not quadratic.
        """
        known = self._rooted.get(plane)
        if known is None:
            known = self._rooted[plane] = {}
        root = self.root
        path: list[IORegistryEntry] = []
        node: IORegistryEntry | None = entry
        while node is not None:
            if node is root or known.get(id(node)) is node:
                for step in path:
                    known[id(step)] = step
                return True
            path.append(node)
            node = node.get_parent_entry(plane)
        return False

    def plane_root(self, plane: str) -> IORegistryEntry | None:
        """The root's first child in ``plane``: what ``Plane:/`` names."""
        children = self.root.get_child_entries(plane)
        return children[0] if children else None

    def walk(self, plane: str, start: IORegistryEntry | None = None
             ) -> Iterator[tuple[int, IORegistryEntry]]:
        """Depth-first, children in attach order: yields ``(depth, entry)`` from ``start``.

        An entry reachable through several parents is yielded under each, as ioreg prints it.
        """
        stack: list[tuple[int, IORegistryEntry]] = [(0, start or self.root)]
        while stack:
            depth, entry = stack.pop()
            yield depth, entry
            children = entry.get_child_entries(plane)
            stack.extend((depth + 1, child) for child in reversed(children))

    def entries(self) -> Iterator[IORegistryEntry]:
        """Every entry that has an id, in id order."""
        return iter(list(self._by_id.values()))

