"""AppleSMC: the System Management Controller's driver, keeping its key table.

On a Mac AppleSMC matches the ACPI device ``APP0001`` (``IONameMatch`` on an
``IOACPIPlatformDevice``, ``IOProbeScore`` 20000) and serves the SMC's keys to programs through
its user client, ``AppleSMCClient`` (:mod:`.client`). Here the keys come from the nub's
properties (:mod:`.keys`); a write changes the key and tells every program that asked to be
told (an async method's reference, completed with ``send_async_result``).

Like every Apple driver it is power managed: two states, off for system sleep and on; while
off, key reads and writes are refused with ``kIOReturnNotReady`` by the user client's caller
seeing ``powered`` false.
"""

from __future__ import annotations

from iokit_sdk import IOReturn, IOService
from iokit_sdk.power import IOPMPowerState, kIOPMAckImplied, kIOPMDeviceUsable, kIOPMPowerOn
from iokit_sdk.returns import MACH_SEND_INVALID_DEST
from iokit_sdk.userclient import IOUserClient, OSAsyncReference64

from iokit_sample_smc.keys import SMCKey, fourcc, key_table

__all__ = ["AppleSMC"]

Watcher = tuple[IOUserClient, OSAsyncReference64, str | None]

SMC_ON = 1
#: Off (the controller's host interface unpowered in sleep), then on: usable, needing power.
SMC_POWER_STATES = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                   output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn),
)


class AppleSMC(IOService):
    """The SMC's driver: reads and writes keys, and notifies watchers of changes."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.keys: dict[str, SMCKey] = key_table(provider.get_property("Fans", []),
                                                 provider.get_property("TemperatureSensors", {}))
        self.watchers: list[Watcher] = []
        self.set_property("smc-count", 1)
        self.powered = False
        # Power management in IOKit's order: PMinit, join under the ACPI nub, register the
        # table, ask to be on (the kernel then calls set_power_state(1)).
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, SMC_POWER_STATES)
        self.change_power_state_to(SMC_ON)
        self.register_service()
        return True

    def stop(self, provider: IOService) -> None:
        self.pm_stop()
        super().stop(provider)

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        """Off for system sleep (0), on again at wake (1)."""
        self.powered = ordinal == SMC_ON
        return kIOPMAckImplied

    def read_key(self, name: str) -> SMCKey | None:
        return self.keys.get(name)

    def write_key(self, name: str, data: bytes) -> int:
        key = self.keys.get(name)
        if key is None:
            return IOReturn.NOT_FOUND
        if not key.writable:
            return IOReturn.NOT_WRITABLE
        if len(data) != len(key.data):
            return IOReturn.BAD_ARGUMENT
        self.keys[name] = SMCKey(name, key.type, data, key.writable)
        self._notify(name, data)
        return IOReturn.SUCCESS

    def watch(self, client: IOUserClient, reference: OSAsyncReference64,
              name: str | None) -> None:
        self.watchers.append((client, reference, name))

    def forget(self, client: IOUserClient) -> None:
        """``client`` closed: its watches go with it."""
        self.watchers = [w for w in self.watchers if w[0] is not client]

    def _notify(self, name: str, data: bytes) -> None:
        for client, reference, wanted in list(self.watchers):
            if wanted is not None and wanted != name:
                continue
            ret = client.send_async_result(reference, IOReturn.SUCCESS,
                                           [fourcc(name), int.from_bytes(data, "big"), len(data)])
            if ret == MACH_SEND_INVALID_DEST:  # the program is gone
                self.forget(client)
