"""Power management at boot: ``PMInstantiatePowerDomains`` and the machine's recorded PM.

IOKit publishes IOPMrootDomain under the platform expert early in boot, with IORootParent
above it in the IOPower plane (IOPMrootDomain.cpp ``PMInstantiatePowerDomains``,
``IORootParent::start``), and the root domain starts ON. A modelled or real machine also records
``IOPowerManagement`` on entries no driver of ours manages; each gets a stand-in block in the
state it was recorded in (:mod:`.standins`), joined to the power tree where its provider is, so
power questions about a real Mac's devices have the answers the Mac had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iokit_sdk.keys import POWER_PLANE, SERVICE_PLANE, USER_CLIENT_CLASS
from iokit_sdk.service import IOService

from iokit_host.power.pm import DEVICE, POWER_MANAGEMENT, ServicePM
from iokit_host.power.rootdomain import ON_STATE, ROOT_PARENT_FLAGS, ROOT_STATES, IOPMrootDomain
from iokit_host.power.standins import read_recorded
from iokit_host.power.tables import StateTable
from iokit_host.power.tree import IOPowerConnection, IORootParent, power_parent_for
from iokit_host.userclient.rootdomain import ROOT_DOMAIN_USER_CLIENT

if TYPE_CHECKING:
    from iokit_host.power.manager import PowerManager

__all__ = ["adopt_recorded", "publish_root_domain"]

#: IORootParent's ``IOPowerManagement``: the power source, always on.
_ROOT_PARENT_PM = {"DevicePowerState": 1, "CurrentPowerState": 1, "CapabilityFlags": 0,
                   "MaxPowerState": 1}


def publish_root_domain(manager: PowerManager) -> IOService | None:
    """IOPMrootDomain under the platform expert (as ``PMInstantiatePowerDomains``), ON; the
    one already there when called again, or the machine's own."""
    if manager.system.root is not None:
        return manager.system.root.service
    kernel = manager.kernel
    platform = kernel.registry.plane_root(SERVICE_PLANE)
    if not isinstance(platform, IOService):
        return None
    expert = next((c for c in platform.get_clients() if c.meta_cast("IOPlatformExpert")),
                  platform)
    root = _child_of_class(expert, IOPMrootDomain) or _child_of_class(platform, IOPMrootDomain)
    if root is None:
        root = IOPMrootDomain()
        # What programs open (IORegisterForSystemPower, IOPMSleepSystem), as on a Mac.
        root._props[USER_CLIENT_CLASS] = ROOT_DOMAIN_USER_CLIENT
        if not kernel.attach(root, expert):
            return None
        kernel.register_service(root)
    _attach_root_parent(manager, root)
    pm = ServicePM(root)
    pm.table = StateTable.of(ROOT_STATES)
    pm.driver = root
    pm.current = ON_STATE
    pm.set_client(DEVICE, ON_STATE)
    pm.parent_flags_fixed = ROOT_PARENT_FLAGS
    manager.add_block(pm)
    manager.system.root = pm
    pm.publish()
    return root


def _attach_root_parent(manager: PowerManager, root: IOService) -> None:
    """IORootParent, the root domain's power parent: a client of the root domain in the
    service plane, the IOPower plane's top with the root domain below its connection."""
    registry = manager.kernel.registry
    patriarch = _child_of_class(root, IORootParent)
    if patriarch is None:
        patriarch = IORootParent()
        manager.kernel.attach(patriarch, root)
    patriarch._props[POWER_MANAGEMENT] = dict(_ROOT_PARENT_PM)
    registry.attach(patriarch, registry.root, POWER_PLANE)
    connection = IOPowerConnection()
    registry.attach(connection, patriarch, POWER_PLANE)
    registry.attach(root, connection, POWER_PLANE)


def adopt_recorded(manager: PowerManager) -> int:
    """Give stand-in power management to every entry recording ``IOPowerManagement``
    (providers first); returns how many."""
    skip = (IOPMrootDomain, IORootParent, IOPowerConnection)
    found = [e for e in manager.kernel.registry.entries()
             if POWER_MANAGEMENT in e._props and isinstance(e, IOService)
             and not isinstance(e, skip) and manager.pm_of(e) is None]
    found.sort(key=lambda e: e._entry_id or 0)
    adopted = 0
    for service in found:
        assert isinstance(service, IOService)
        pm = _stand_in(service)
        if pm is None:
            continue
        manager.add_block(pm)
        root = manager.system.root
        provider = service.get_provider()
        parent = power_parent_for(provider, manager.pm_of, root) if provider is not None \
            else root
        if parent is not None and manager.join(parent, pm):
            requirement = pm.table.states[pm.current].input_power_requirement \
                if pm.table is not None else 0
            manager.changes.set_request(parent, pm.parents[-1], parent.table.supplying(
                requirement) if parent.table is not None else None)
        pm.publish()
        adopted += 1
    manager.kick()
    return adopted


def _stand_in(service: IOService) -> ServicePM | None:
    """The block of a service in the state its recorded ``IOPowerManagement`` says; None when
    the record does not read."""
    recorded = read_recorded(service._props[POWER_MANAGEMENT])
    if recorded is None:
        return None
    pm = ServicePM(service)
    pm.table = recorded.table
    pm.driver = service
    pm.current = recorded.current
    pm.set_floor(recorded.current)
    for name, value in recorded.clients.items():
        pm.set_client(name, value)
    if any(value > recorded.current for value in recorded.clients.values()):
        # The Mac held it below what its clients asked (an override ceiling, which
        # IOPowerManagement does not show): it stays there, across a sleep too.
        pm.set_override(recorded.current)
    return pm


def _child_of_class(parent: IOService, cls: type[IOService]) -> IOService | None:
    return next((c for c in parent.get_clients() if isinstance(c, cls)), None)
