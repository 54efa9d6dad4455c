"""ioreg's options and its entry selection (``ioreg.c`` ``struct options`` and ``compare``).

An entry *matches* when it satisfies every criterion given among ``-c``, ``-k`` and ``-n``;
with no criterion nothing matches (``compare`` returns false). Matched entries get their
properties printed even without ``-l``, and ``-r`` prints the subtrees they root.
"""

from __future__ import annotations

from dataclasses import dataclass

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.errors import IOKitError
from iokit_host.registry import IORegistry

__all__ = ["IoregOptions", "UnknownPlaneError", "check_plane"]

#: The property a DriverKit service lists its user-space classes in (``-c`` consults it).
USER_CLASSES = "IOUserClasses"


class UnknownPlaneError(IOKitError):
    reference = "ioreg-unknown-plane"


@dataclass(frozen=True, slots=True)
class IoregOptions:
    """What to print, flag by flag as ioreg's (the letter is the ioreg flag).

    :param plane: ``-p``, the plane to walk.
    :param list_properties: ``-l``, print every entry's properties.
    :param class_name: ``-c``, match entries conforming to this class.
    :param name: ``-n``, match this name (``name@location`` when it contains ``@``).
    :param key: ``-k``, match entries having this property.
    :param root: ``-r``, print only the subtrees rooted at matched entries.
    :param tree: ``-t``, with ``-r`` also print each match's ancestors.
    :param depth: ``-d``, limit the tree depth (0 is unlimited).
    :param width: ``-w``, clip lines to this many columns (0 is unlimited).
    :param hex_numbers: ``-x``, numbers as ``0x..`` and data always as hex.
    :param inheritance: ``-i``, class printed as its whole ``A:B:C`` chain.
    :param state: ``-s``/``-S``, print id, state and retain count.
    :param ignore_user_classes: ``-y``, let ``-c`` ignore ``IOUserClasses``.
    """

    plane: str = SERVICE_PLANE
    list_properties: bool = False
    class_name: str | None = None
    name: str | None = None
    key: str | None = None
    root: bool = False
    tree: bool = False
    depth: int = 0
    width: int = 0
    hex_numbers: bool = False
    inheritance: bool = False
    state: bool = True
    ignore_user_classes: bool = False

    @property
    def has_criteria(self) -> bool:
        return self.class_name is not None or self.name is not None or self.key is not None

    def matches(self, entry: IORegistryEntry) -> bool:
        """ioreg's ``compare``: every given criterion holds (and at least one is given)."""
        if not self.has_criteria:
            return False
        if self.class_name is not None and not self._conforms(entry, self.class_name):
            return False
        if self.key is not None and not entry.has_property(self.key):
            return False
        return self.name is None or self._name_matches(entry, self.name)

    def shows_properties(self, entry: IORegistryEntry) -> bool:
        return self.list_properties or self.matches(entry)

    def expands(self, depth: int, depth_limit: int) -> bool:
        """Whether an entry at ``depth`` shows its children (``options.depth > depth + 1``)."""
        return depth_limit <= 0 or depth_limit > depth + 1

    def _conforms(self, entry: IORegistryEntry, class_name: str) -> bool:
        user_classes = entry.get_property(USER_CLASSES)
        if isinstance(user_classes, (list, tuple)) and not self.ignore_user_classes:
            # A dext service: ioreg consults only its user classes, not the kernel class.
            return class_name in user_classes
        return entry.meta_cast(class_name)

    def _name_matches(self, entry: IORegistryEntry, wanted: str) -> bool:
        name = entry.get_name(self.plane)
        if "@" in wanted:
            name += "@" + (entry.get_location(self.plane) or "")
        return name == wanted


def check_plane(registry: IORegistry, plane: str) -> None:
    """Raise :class:`UnknownPlaneError` naming the known planes unless ``plane`` exists."""
    if not registry.has_plane(plane):
        known = ", ".join(registry.planes)
        raise UnknownPlaneError(f"no plane named {plane!r}; known planes: {known}", key=plane,
                                hint=f"pass -p with one of: {known}")
