"""AppleSMC: the System Management Controller's driver, keeping its key table.

On a Mac AppleSMC matches the ACPI device ``APP0001`` (``IONameMatch`` on an
``IOACPIPlatformDevice``, ``IOProbeScore`` 20000) and serves the SMC's keys to programs through
its user client, ``AppleSMCClient`` (:mod:`.client`). Here the keys come from the nub's
properties (:mod:`.keys`); a write changes the key and tells every program that asked to be
told (an async method's reference, completed with ``send_async_result``).
"""

from __future__ import annotations

from iokit_sdk import IOReturn, IOService
from iokit_sdk.userclient import IOUserClient, OSAsyncReference64

from iokit_sample_smc.keys import SMCKey, fourcc, key_table

__all__ = ["AppleSMC"]

Watcher = tuple[IOUserClient, OSAsyncReference64, str | None]


class AppleSMC(IOService):
    """The SMC's driver: reads and writes keys, and notifies watchers of changes."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.keys: dict[str, SMCKey] = key_table(provider.get_property("Fans", []),
                                                 provider.get_property("TemperatureSensors", {}))
        self.watchers: list[Watcher] = []
        self.set_property("smc-count", 1)
        self.register_service()
        return True

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
            if ret == IOReturn.NOT_ATTACHED:  # the program is gone
                self.forget(client)
