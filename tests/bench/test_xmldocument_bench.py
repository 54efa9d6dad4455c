"""Benchmark: the memory an ``ioreg -a`` document of 50 MB takes to import.

Each reader runs in a fresh interpreter that reads the file and then reports its peak resident
size (``VmHWM``, reset just before) above what it held before reading; the document is a synthetic registry
(buses of devices with the properties a PCI nub carries) written the way ``ioreg -a`` writes
it. Baselines measured in the same run: the document's size, and ``plistlib.loads`` (expat
feeding Python values, no tree), which any reader must at least hold.

Target: ``load_xml_document`` within 1.5x plistlib's peak, and the whole import (values, the
dump's tree, the machine model) within 4x the document's size. Before it streamed, the
ElementTree of the document took 570 MiB for this 56 MiB document (10x), the import as much.
Measured: values 104-107 MiB against plistlib's 90-104 (1.0-1.15x), the import 203-205 MiB
(3.6x the document; the machine model it holds is about two thirds of that).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.ioreg.plisttext import dump

pytestmark = pytest.mark.bench

SIZE = 50 << 20
VALUES_BOUND = 1.5
IMPORT_BOUND = 4.0

#: The child's peak is its own: ``ru_maxrss`` would start at the parent's size (Linux records
#: the forking process's peak at ``exec``), so a large pytest process hid the reader's growth.
#: Writing 5 to ``clear_refs`` resets the peak (``VmHWM``) to the current size.
_PEAK = """
import gc, sys
from pathlib import Path

def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

data = Path(sys.argv[1]).read_bytes()
gc.collect()
{imports}
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
before = peak()
result = {call}
print(peak() - before)
"""
READERS = {
    "plistlib": ("import plistlib", "plistlib.loads(data)"),
    "values": ("from iokit_host.explorer_archive.xmldocument import load_xml_document",
               "load_xml_document(data)"),
    "import": ("from iokit_host.explorer_archive import parse_archive",
               "parse_archive(data, source='big.plist')"),
}


def _device(number: int) -> dict[str, object]:
    return {
        "IORegistryEntryName": f"pci8086,{number % 0xFFFF:x}",
        "IORegistryEntryLocation": f"{number % 32:x},{number % 8:x}",
        "IORegistryEntryID": 0x100000000 + number, "IOObjectClass": "IOPCIDevice",
        "IOObjectRetainCount": 9, "IOServiceState": 30, "IOServiceBusyState": 0,
        "IOServiceBusyTime": 102345, "vendor-id": b"\x86\x80\x00\x00",
        "device-id": (number % 0xFFFF).to_bytes(4, "little"), "class-code": b"\x00\x03\x0c\x00",
        "reg": bytes(20) * 3, "compatible": b"pci8086,1e31\x00pciclass,0c0330\x00",
        "IOPCIExpressLinkStatus": 0x1011, "IOInterruptSpecifiers": [b"\x10\x00\x00\x00"],
        "IOPowerManagement": {"CurrentPowerState": 2, "DevicePowerState": 2,
                              "MaxPowerState": 2},
        "IOName": "pci-bridge", "name": b"pci-bridge\x00", "acpi-path":
            f"IOACPIPlane:/_SB/PCI0@0/RP0{number % 8}@1c000{number % 8}",
    }


def _write_document(path: Path) -> int:
    """A registry of about ``SIZE`` bytes of ``ioreg -a`` XML at ``path``; its size."""
    probe = Path(str(path) + ".one")
    with probe.open("wb") as stream:
        dump(_device(1), stream)
    count = SIZE // probe.stat().st_size
    buses = [{"IORegistryEntryName": f"PCI{bus}", "IOObjectClass": "IOPCIBridge",
              "IORegistryEntryID": 0x1000 + bus,
              "IORegistryEntryChildren": [_device(bus * 1000 + n) for n in range(1000)]}
             for bus in range(count // 1000)]
    root = {"IORegistryEntryName": "Root", "IOObjectClass": "IORegistryEntry",
            "IORegistryEntryID": 0x100, "IORegistryEntryChildren": [{
                "IORegistryEntryName": "Mac", "IOObjectClass": "IOPlatformExpertDevice",
                "IORegistryEntryID": 0x200, "IORegistryEntryChildren": buses}]}
    with path.open("wb") as stream:
        dump(root, stream)
    return path.stat().st_size


def _peak_kib(reader: str, path: Path) -> int:
    imports, call = READERS[reader]
    done = subprocess.run([sys.executable, "-c", _PEAK.format(imports=imports, call=call),
                           str(path)], capture_output=True, text=True, check=True, timeout=600)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux's /proc/self/clear_refs to reset a process's peak")
def test_an_ioreg_a_document_imports_in_a_small_multiple_of_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.plist"
    size = _write_document(path) >> 10
    peaks = {reader: _peak_kib(reader, path) for reader in READERS}
    print(f"\ndocument {size >> 10} MiB; peak above the read bytes: "
          + ", ".join(f"{reader} {peak >> 10} MiB" for reader, peak in peaks.items())
          + f" (values {peaks['values'] / peaks['plistlib']:.2f}x plistlib, bound "
          f"{VALUES_BOUND}; import {peaks['import'] / size:.2f}x the document, bound "
          f"{IMPORT_BOUND})")
    assert peaks["values"] <= VALUES_BOUND * peaks["plistlib"]
    assert peaks["import"] <= IMPORT_BOUND * size
