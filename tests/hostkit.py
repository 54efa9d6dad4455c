"""Builders for host tests: in-test kexts, driver classes and small machines (no files)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from iokit_sdk import IOService, keys

from iokit_host.host import IOKitHost
from iokit_host.kernel.watchdog import DrivenTime, Watchdog
from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.version import parse_version
from iokit_host.machine.model import MachineModel, NubSpec

BCM_VENDOR = b"\xe4\x14\x00\x00"
BCM_DEVICE = b"\x31\x43\x00\x00"
_KPI = {"com.apple.kpi.iokit": "8.0"}


def kext(bundle_id: str, personalities: Mapping[str, Mapping[str, Any]], *,
         package: str | None = None, libraries: Mapping[str, str] | None = None,
         version: str = "1.0", compatible: str | None = None) -> KextBundle:
    """A kext bundle as B's manifest reader would produce it (CFBundleIdentifier fixed up)."""
    fixed = {name: {**table, keys.BUNDLE_IDENTIFIER: bundle_id}
             for name, table in personalities.items()}
    return KextBundle(bundle_id=bundle_id, version=version, version_value=parse_version(version),
                      compatible_version=compatible,
                      compatible_version_value=parse_version(compatible) if compatible else None,
                      libraries=dict(libraries if libraries is not None else
                                     _KPI if package else {}), personalities=fixed, package=package,
                      has_executable=package is not None)


def personality(io_class: str, provider: str = "IOPCIDevice", score: int | None = None,
                **extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {keys.CLASS: io_class, keys.PROVIDER_CLASS: provider}
    if score is not None:
        table[keys.PROBE_SCORE] = score
    table.update(extra)
    return table


def machine(*nubs: NubSpec) -> MachineModel:
    root = NubSpec("IOPlatformExpertDevice", name="TestMac", children=tuple(nubs))
    return MachineModel("test", "a test machine", root)


def wifi_nub(location: str = "0", **props: Any) -> NubSpec:
    return NubSpec("IOPCIDevice", name="pci14e4,4331", location=location,
                   properties={"vendor-id": BCM_VENDOR, "device-id": BCM_DEVICE, **props})


def make_host(nubs: Iterable[NubSpec], bundles: Iterable[KextBundle],
              classes: Mapping[str, Iterable[type[IOService]]] | None = None,
              **options: Any) -> IOKitHost:
    """A host over ``nubs`` with exactly ``bundles``; ``classes``: bundle id -> its classes."""
    host = IOKitHost(machine(*nubs), kexts=list(bundles), **options)
    for bundle_id, defined in (classes or {}).items():
        host.classes.register_kext_classes(bundle_id, defined)
    return host


class Journal:
    """Records lifecycle calls as ``(method, service name, provider name)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    def add(self, method: str, service: IOService, provider: IOService | None = None) -> None:
        self.calls.append((method, service.get_name(),
                           provider.get_name() if provider is not None else None))

    def methods(self, method: str) -> list[str]:
        return [name for m, name, _ in self.calls if m == method]


def driven_watchdog(host: IOKitHost, limit_s: float = 5.0) -> DrivenTime:
    """Give ``host``'s kernel a watchdog on driven time; a hanging test driver calls
    ``advance`` on the returned clock in its loop and is abandoned after ``limit_s``."""
    clock = DrivenTime()
    host.kernel.driver_calls.watchdog = Watchdog(limit_s, clock=clock)
    return clock
