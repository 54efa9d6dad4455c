"""IORegistryEntry: one node of the registry, with typed properties, names and plane links.

This is the object part of xnu's ``IORegistryEntry``: a property table, a name and location
(global or per plane) and, per plane, ordered arrays of parent and child links. The registry
itself (ids, planes, paths, attach and detach) belongs to the host's ``IORegistry``, which
is the only code that changes links; drivers read them.

IOKit class identity (the OSMetaClass role) is the Python class: every subclass has an IOKit
class name (its ``__name__``, or ``iokit_class_name`` when set) and a class chain from
itself up to ``IORegistryEntry``, which ``meta_cast`` walks as ``OSDynamicCast`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.plain import PropertyView, copied_table, plain_value
from iokit_sdk.values import SCALAR_TYPES, PropertyValue, check_symbol, check_text

__all__ = ["IORegistryEntry"]


class IORegistryEntry:
    """A registry node. Subclasses are IOKit classes; their instances are entries.

    :param properties: the initial property table (copied; values are checked).
    :param name: the global name (``IOName``); without one the class name is used.
    :param location: the global location (``IOLocation``), as in ``PCI0@0``.
    """

    __slots__ = (
        "__weakref__",
        "_children",
        "_entry_id",
        "_location",
        "_name",
        "_parents",
        "_plane_naming",
        "_props",
    )

    iokit_class_name: ClassVar[str] = "IORegistryEntry"
    #: Most-derived first, ending with ``IORegistryEntry`` (``OSObject`` left out, as ioreg -i).
    class_chain: ClassVar[tuple[str, ...]] = ("IORegistryEntry",)
    _class_chain_set: ClassVar[frozenset[str]] = frozenset(class_chain)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = _text(cls.__dict__.get("iokit_class_name", cls.__name__), "iokit_class_name")
        cls.iokit_class_name = name
        parent_chain = next(
            (b.class_chain for b in cls.__mro__[1:] if issubclass(b, IORegistryEntry)), ()
        )
        chain = (name, *parent_chain) if not parent_chain or parent_chain[0] != name else parent_chain
        cls.class_chain = chain
        cls._class_chain_set = frozenset(chain)

    def __init__(
        self,
        properties: Mapping[str, PropertyValue] | None = None,
        *,
        name: str | None = None,
        location: str | None = None,
    ) -> None:
        self._props: dict[str, Any] = {}
        if properties:
            for key, value in properties.items():
                self.set_property(key, value)
        self._name = None if name is None else _text(name, "name")
        self._location = None if location is None else _text(location, "location")
        self._plane_naming: dict[str, tuple[str | None, str | None]] | None = None
        # Per plane, parents and children in attach order; two maps rather than one of pairs,
        # so a leaf (most of a registry: every driver) carries no empty child list.
        self._parents: dict[str, list[IORegistryEntry]] | None = None
        self._children: dict[str, list[IORegistryEntry]] | None = None
        self._entry_id: int | None = None

    # -- class identity ------------------------------------------------------------------
    @classmethod
    def class_name(cls) -> str:
        """The IOKit class name (``getMetaClass()->getClassName()``)."""
        return cls.iokit_class_name

    def meta_cast(self, class_name: str) -> bool:
        """True when this entry's class is ``class_name`` or inherits from it."""
        return class_name in self._class_chain_set

    # -- properties ----------------------------------------------------------------------
    def get_property(self, key: str, default: Any = None) -> Any:
        """The property's value; a container comes as a copy (changing it changes nothing:
        ``set_property`` does), so no driver changes a value in place behind the registry's
        checks (made to contain itself, or an object no reader knows)."""
        value = self._props.get(key, default)
        if type(value) in SCALAR_TYPES or value is default:
            return value
        return plain_value(value, key)

    def has_property(self, key: str) -> bool:
        return key in self._props

    def set_property(self, key: str, value: PropertyValue) -> None:
        """Set one property; ``value`` must be a registry property type (see ``values``). The
        registry keeps a copy made of the built-in types (:func:`~iokit_sdk.plain.plain_value`):
        changing ``value`` afterwards does not change the property."""
        if type(key) is not str:
            if not isinstance(key, str):
                raise TypeError(f"property keys are strings, not {type(key).__name__}")
            key = str.__str__(key)
        if not key.isascii() or "\0" in key:
            check_symbol(key, f"property key {key!r}")
        if type(value) not in SCALAR_TYPES:  # scalars are valid as they are: skip the call
            value = plain_value(value, key)
        elif type(value) is str and not value.isascii():  # but text must be encodable
            check_text(value, key)
        self._props[key] = value

    def _set_each(self, properties: Mapping[str, Any]) -> None:
        """:meth:`set_property` for each item, in order, its checks inline for the common item
        (an ASCII key, a scalar value): a driver's ``init`` sets its personality's keys, and a
        call each was a twentieth of a boot."""
        props = self._props
        scalars = SCALAR_TYPES
        for key, value in properties.items():
            kind = type(value)
            if type(key) is str and key.isascii() and "\0" not in key and kind in scalars \
                    and (kind is not str or value.isascii()):
                props[key] = value
            else:
                self.set_property(key, value)

    def remove_property(self, key: str) -> None:
        self._props.pop(key, None)

    @property
    def properties(self) -> Mapping[str, Any]:
        """A read-only view of the property table, in insertion order; a container read
        through it is a copy (changing it changes nothing: ``set_property`` does)."""
        return PropertyView(self._props)

    def copy_properties(self) -> dict[str, Any]:
        """A copy of the property table, its containers copied too: the caller may change it
        (a list it appends to itself) and the registry never holds a cycle."""
        return copied_table(self._props)

    # -- names and locations -------------------------------------------------------------
    def get_name(self, plane: str | None = None) -> str:
        """Per-plane name, then the global ``IOName``, then the class name (``getName``)."""
        if plane and self._plane_naming and plane in self._plane_naming:
            plane_name = self._plane_naming[plane][0]
            if plane_name is not None:
                return plane_name
        return self._name if self._name is not None else self.iokit_class_name

    def get_location(self, plane: str | None = None) -> str | None:
        """Per-plane location, then the global ``IOLocation``; None when neither is set."""
        if plane and self._plane_naming and plane in self._plane_naming:
            plane_location = self._plane_naming[plane][1]
            if plane_location is not None:
                return plane_location
        return self._location

    def set_name(self, name: str, plane: str | None = None) -> None:
        name = _text(name, "name")
        if plane is None:
            self._name = name
        else:
            self._set_plane_naming(plane, name, None, set_name=True)

    def set_location(self, location: str | None, plane: str | None = None) -> None:
        location = None if location is None else _text(location, "location")
        if plane is None:
            self._location = location
        else:
            self._set_plane_naming(plane, None, location, set_name=False)

    def _set_plane_naming(self, plane: str, name: str | None, loc: str | None, *,
                          set_name: bool) -> None:
        naming = self._plane_naming if self._plane_naming is not None else {}
        old_name, old_loc = naming.get(plane, (None, None))
        naming[plane] = (name, old_loc) if set_name else (old_name, loc)
        self._plane_naming = naming

    # -- links (read side; the host's IORegistry writes them) ------------------------------
    def get_registry_entry_id(self) -> int | None:
        """The 64-bit registry id, assigned at first attach; None before that."""
        return self._entry_id

    def get_parent_entry(self, plane: str = SERVICE_PLANE) -> IORegistryEntry | None:
        """The first parent in ``plane`` (``getParentEntry``; for IOService, the provider)."""
        parents = self._parents.get(plane) if self._parents else None
        return parents[0] if parents else None

    def get_parent_entries(self, plane: str = SERVICE_PLANE) -> tuple[IORegistryEntry, ...]:
        parents = self._parents.get(plane) if self._parents else None
        return tuple(parents) if parents else ()

    def get_path(self, plane: str = SERVICE_PLANE) -> str | None:
        """The path in ``plane`` (``getPath``): ``IOService:/name@location/...`` from below the
        plane's root; None when the entry is not linked up to the registry root."""
        components: list[str] = []
        node: IORegistryEntry = self
        seen: set[int] = set()
        while True:
            parent = node.get_parent_entry(plane)
            if parent is None or id(node) in seen:
                return None
            if parent.get_parent_entry(plane) is None:  # node is the plane's root
                return f"{plane}:/" + "/".join(reversed(components))
            seen.add(id(node))
            location, name = node.get_location(plane), node.get_name(plane)
            components.append(f"{name}@{location}" if location else name)
            node = parent

    def get_child_entries(self, plane: str = SERVICE_PLANE) -> tuple[IORegistryEntry, ...]:
        """Children in attach order, which is the order ioreg prints them."""
        children = self._children.get(plane) if self._children else None
        return tuple(children) if children else ()

    def iter_child_entries(self, plane: str = SERVICE_PLANE) -> Iterator[IORegistryEntry]:
        children = self._children.get(plane) if self._children else None
        return iter(children) if children else iter(())

    def in_plane(self, plane: str) -> bool:
        return bool(self._parents and plane in self._parents
                    or self._children and plane in self._children)

    def planes(self) -> tuple[str, ...]:
        """The planes this entry is linked in, in the order it joined them."""
        return tuple(dict.fromkeys([*(self._parents or ()), *(self._children or ())]))

    def __repr__(self) -> str:
        entry_id = f"0x{self._entry_id:x}" if self._entry_id is not None else "unattached"
        return f"<{self.iokit_class_name} {self.get_name()!r} {entry_id}>"


def _text(value: object, what: str) -> str:
    """A name as the built-in ``str``: a subclass's methods (``__format__``, ``__eq__``) would
    otherwise run wherever the registry prints or compares it. An ``OSSymbol`` holds text:
    a lone surrogate is refused (:class:`~iokit_sdk.values.PropertyTextError`)."""
    if type(value) is str:
        return check_symbol(value, f"a registry entry's {what}")
    if isinstance(value, str):
        return check_symbol(str.__str__(value), f"a registry entry's {what}")
    raise TypeError(f"a registry entry's {what} is a string, not {type(value).__name__}")
