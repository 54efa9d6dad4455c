"""What a kext's class may not override: the registry entry's own accessors (OSMetaClass's
view of what is a driver's to change).

A driver overrides the methods the kernel calls it through (``init``, ``probe``, ``start``,
``stop``, ``message``, ``set_power_state``, ``external_method``, ...): every such call is
guarded, so whatever the override does is that driver's fault. The kernel also reads every
entry, a driver's included, in its own code: names, properties, paths, state, links, and the
object itself (in sets, compared, its truth). In C++ those reads are non-virtual or
an override's bug is the kernel's panic; here an override of one (a ``get_name`` that raises
or hangs, a ``get_property`` that returns something else each time, an ``__eq__`` or
``__hash__``) would run the driver's code unguarded in the middle of ``ioreg``, a
termination or a power change. So a kext class that overrides one is refused when the kext
registers its classes, and a class met first when an entry of it is attached (a nub class a
driver did not export) is refused there, each with a diagnostic naming the class and the
methods. The host's own classes (``iokit_host``, ``iokit_sdk``) are the implementation and
are not checked.
"""

from __future__ import annotations

from iokit_host.errors import IOKitError

__all__ = ["SEALED", "SealedMethodError", "check_class", "sealed_overrides"]

#: The methods and attributes the kernel reads in its own code. (Not ``__repr__``, ``__str__``
#: or ``__format__``, which a driver may well define for its own logs: the kernel names an
#: entry by its class and name, never by printing the object.)
SEALED = frozenset({
    # IORegistryEntry: names, properties, links
    "get_name", "get_location", "set_name", "set_location", "get_property", "has_property",
    "set_property", "remove_property", "properties", "copy_properties", "get_path",
    "get_registry_entry_id", "get_parent_entry", "get_parent_entries", "get_child_entries",
    "iter_child_entries", "in_plane", "planes", "meta_cast", "class_name",
    # IOService: state and links
    "get_provider", "get_clients", "get_state", "is_inactive", "get_busy_state",
    # the object itself, as the kernel's sets, lists, messages and tests use it
    "__eq__", "__ne__", "__hash__", "__bool__", "__len__", "__getattr__", "__getattribute__", "__setattr__", "__delattr__", "__del__",
})
_HOST_MODULES = ("iokit_sdk.", "iokit_host.")


class SealedMethodError(IOKitError):
    reference = "class-overrides-registry-accessor"


def sealed_overrides(cls: type) -> tuple[str, ...]:
    """The sealed names ``cls`` or a kext class it inherits from defines, sorted."""
    found: set[str] = set()
    for klass in cls.__mro__:
        if klass is object or str(klass.__module__).startswith(_HOST_MODULES):
            continue
        found.update(SEALED.intersection(vars(klass)))
    return tuple(sorted(found))


def check_class(cls: type, owner: str | None = None) -> None:
    """Raise :class:`SealedMethodError` when ``cls`` overrides a sealed name."""
    names = sealed_overrides(cls)
    if names:
        raise SealedMethodError(
            f"class {cls.__name__} overrides {', '.join(names)}, which the kernel reads as "
            "registry data in its own code", subject=owner, key=cls.__name__,
            hint="set names and properties with set_name/set_property from start and keep "
                 "the registry's own methods; the kernel calls a driver only through its "
                 "driver methods (init, probe, start, stop, message, ...)")
