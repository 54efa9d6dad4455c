"""The power tree: IOPower-plane links through ``IOPowerConnection`` entries (``addPowerChild``).

``ioreg -p IOPower`` shows power parents and children with an ``IOPowerConnection`` between
each pair: ``parent -> IOPowerConnection -> child``. The connection also carries the link's
state (IOPowerConnection.cpp): the power the parent currently supplies to the child
(``parentCurrentPowerFlags``, None until the parent's state is known) and the parent state the
child asks for (``getDesiredDomainState``), which the parent folds into its
``ChildrenPowerState``. The root of the plane is ``IORootParent``, the patriarch that powers
IOPMrootDomain.

``joinPMtree`` as ``PMRegisterDevice`` places it: under the provider when the provider is
power managed, else under the nearest power-managed provider above it, else under the root
domain (:func:`power_parent_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from iokit_sdk.keys import POWER_PLANE, SERVICE_PLANE
from iokit_sdk.service import IOService

if TYPE_CHECKING:
    from iokit_sdk.values import PropertyValue

    from iokit_host.power.pm import ServicePM
    from iokit_host.registry import IORegistry

__all__ = ["IOPowerConnection", "IORootParent", "link", "power_parent_for", "unlink"]


class IOPowerConnection(IOService):
    """The entry between a power parent and a child in the IOPower plane."""

    __slots__ = ("child_pm", "parent_flags", "parent_pm", "request")

    def __init__(self, properties: Mapping[str, PropertyValue] | None = None, *,
                 name: str | None = None, location: str | None = None) -> None:
        super().__init__(properties, name=name, location=location)
        self.parent_pm: ServicePM | None = None
        self.child_pm: ServicePM | None = None
        #: Output flags of the parent's state as the child sees it; None until known.
        self.parent_flags: int | None = None
        #: The parent state the child needs (an ordinal of the parent's table), or None.
        self.request: int | None = None


class IORootParent(IOService):
    """The patriarch: IOPMrootDomain's power parent, root of the IOPower plane."""

    __slots__ = ()


def link(registry: IORegistry, parent: ServicePM, child: ServicePM) -> IOPowerConnection:
    """Make ``child`` a power child of ``parent`` (``addPowerChild``).

    :raises RegistryError: ``registry-cycle`` when ``child`` is ``parent`` or above it.
    """
    connection = IOPowerConnection()
    connection.parent_pm = parent
    connection.child_pm = child
    registry.attach(connection, parent.service, POWER_PLANE)
    try:
        registry.attach(child.service, connection, POWER_PLANE)
    except Exception:
        registry.detach(connection, parent.service, POWER_PLANE)
        raise
    if parent.table is not None and not parent.initial_pending:
        connection.parent_flags = parent.output_flags()
    parent.children.append(connection)
    child.parents.append(connection)
    return connection


def unlink(registry: IORegistry, connection: IOPowerConnection) -> None:
    """Undo :func:`link` (``removePowerChild``)."""
    parent, child = connection.parent_pm, connection.child_pm
    if parent is not None:
        registry.detach(connection, parent.service, POWER_PLANE)
        if connection in parent.children:
            parent.children.remove(connection)
    if child is not None:
        registry.detach(child.service, connection, POWER_PLANE)
        if connection in child.parents:
            child.parents.remove(connection)
    registry.detach_all(connection)
    connection.parent_pm = connection.child_pm = None


def power_parent_for(provider: IOService, managed: Callable[[IOService], ServicePM | None],
                     root: ServicePM | None) -> ServicePM | None:
    """Where ``provider.join_pm_tree(driver)`` puts the driver: ``provider`` when it is power
    managed, else the nearest power-managed provider above it, else the root domain."""
    node: IOService | None = provider
    while node is not None:
        found = managed(node)
        if found is not None:
            return found
        parent = node.get_parent_entry(SERVICE_PLANE)
        node = parent if isinstance(parent, IOService) else None
    return root
