"""Builders for the power tests: power-managed test devices on a booted host, and a journal of
every power call they receive (no matching needed: devices attach and join PM directly)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hostkit import machine
from iokit_sdk import IOService
from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMDeviceUsable,
    kIOPMLowPower,
    kIOPMPowerOn,
)

from iokit_host.host import IOKitHost
from iokit_host.power.log import PowerEvent

#: Off, low power (still supplying power to children), on: a typical three-state table.
THREE = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMLowPower, output_power_character=kIOPMPowerOn,
                   input_power_requirement=kIOPMPowerOn),
    IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                   output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn),
)


class PowerJournal:
    """Every power call, as ``(call, receiver name, ordinal or message, about)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, str]] = []

    def add(self, call: str, receiver: IOService, value: int, about: IOService | None) -> None:
        self.calls.append((call, receiver.get_name(),
                           value, about.get_name() if about is not None else ""))

    def of(self, call: str) -> list[tuple[str, int]]:
        return [(name, value) for c, name, value, _ in self.calls if c == call]

    def clear(self) -> None:
        self.calls.clear()


class PMDevice(IOService):
    """A power-managed test device: journals its calls; its answers are set per instance.

    :attr answer: what ``set_power_state`` returns (0, or µs), or a callable of the ordinal.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal: PowerJournal | None = None
        self.answer: int | Callable[[int], Any] = 0
        self.messages: list[int] = []
        self.on_message: Callable[[int, Any], int] | None = None

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        if self.journal is not None:
            self.journal.add("set_power_state", self, ordinal, device)
        return self.answer(ordinal) if callable(self.answer) else self.answer

    def message(self, message_type: int, provider: IOService | None, argument: Any = None) -> int:
        self.messages.append(message_type)
        if self.journal is not None:
            self.journal.add("message", self, message_type, provider)
        if self.on_message is not None:
            return self.on_message(message_type, argument)
        return 0


class Watcher(PMDevice):
    """A device that also wants to hear about its own changes (overrides will/did)."""

    def power_state_will_change_to(self, capabilities: int, ordinal: int,
                                   device: IOService) -> int:
        if self.journal is not None:
            self.journal.add("will", self, ordinal, device)
        return 0

    def power_state_did_change_to(self, capabilities: int, ordinal: int,
                                  device: IOService) -> int:
        if self.journal is not None:
            self.journal.add("did", self, ordinal, device)
        return 0


def power_host(**options: Any) -> IOKitHost:
    """A booted host over an empty test machine (the root domain is there)."""
    host = IOKitHost(machine(), kexts=[], **options)
    return host.boot()


def add_device(host: IOKitHost, parent: IOService | None, name: str, *,
               journal: PowerJournal | None = None, states: Iterable[IOPMPowerState] = THREE,
               cls: type[PMDevice] = PMDevice, want: int | None = None) -> PMDevice:
    """Attach a device under ``parent`` (the platform root when None), power-manage it
    (``pm_init``, ``parent.join_pm_tree``, ``register_power_driver``) and ask for ``want``
    (the highest state by default); returns once it got there."""
    provider = parent if parent is not None else host.registry.plane_root(SERVICE_PLANE)
    assert isinstance(provider, IOService)
    device = cls(name=name)
    device.journal = journal
    assert host.kernel.attach(device, provider)
    table = tuple(states)
    device.pm_init()
    provider.join_pm_tree(device)
    assert device.register_power_driver(device, table) == 0
    device.change_power_state_to(len(table) - 1 if want is None else want)
    host.power.run_until_idle()
    return device


def chain(host: IOKitHost, depth: int, journal: PowerJournal | None = None) -> list[PMDevice]:
    """``depth`` devices, each the provider (and power parent) of the next."""
    devices: list[PMDevice] = []
    parent: IOService | None = None
    for level in range(depth):
        parent = add_device(host, parent, f"D{level}", journal=journal)
        devices.append(parent)
    return devices


def events(host: IOKitHost, kind: str | None = None) -> list[PowerEvent]:
    return [e for e in host.power.log.events() if kind is None or e.kind == kind]
