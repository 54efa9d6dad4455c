"""Benchmark: PCI and USB family matching per (nub, personality) candidate.

Real PCI catalogues are all ``IOPCIDevice`` personalities (USB ones all ``IOUSBHostInterface``
or ``IOUSBHostDevice``), so the provider-class index cannot narrow them: every PCI nub meets
every PCI personality. Here 300 personalities of one family, none matching, meet nubs hot-plugged
into a booted host (``IOKitHost.plug``: one matching pass each); the cost per candidate is the
difference to plugging the same nubs into a host without them, divided by nubs x personalities.

Baseline, measured in the same run, interleaved round by round, in CPU time: a trivial loop over registers
and match values parsed beforehand (one ``any`` over ``(value, mask)`` pairs for PCI, one tuple
comparison for USB) per candidate. Target: each family within 10x of it.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from iokit_sdk import keys
from iokit_sdk.service import IOService

from iokit_host.host import IOKitHost
from iokit_host.kext.bundle import KextBundle
from iokit_host.machine.model import MachineModel, NubSpec

pytestmark = pytest.mark.bench

NUBS = 60
PERSONALITIES = 300
ROUNDS = 7
BOUND = 10


def _le32(value: int) -> bytes:
    return value.to_bytes(4, "little")


# -- PCI ---------------------------------------------------------------------------------------
def _pci_nubs() -> list[NubSpec]:
    return [NubSpec("IOPCIDevice", name=f"dev{i}", location=f"{i:x}", properties={
        "vendor-id": _le32(NUB_VENDOR[0]), "device-id": _le32(0x2000 + i),
        "subsystem-vendor-id": _le32(0x1B00 + i % 5), "subsystem-id": _le32(0x3000 + i),
        "class-code": _le32(0x0C0330), "revision-id": _le32(i & 0xFF)}) for i in range(NUBS)]


#: A catalogue's vendors; none is a bench nub's, so the vendor index may skip their devices.
OTHER_VENDORS = (0x8086, 0x10DE, 0x1002, 0x14E4, 0x168C, 0x106B, 0x11AB, 0x10EC)
#: The bench nubs' own vendor: every personality must then be compared.
NUB_VENDOR = (0x1A00,)


def _pci_personalities(vendors: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """A catalogue's mix: device lists, vendor-masked and class matches; none fits a nub."""
    tables: dict[str, dict[str, Any]] = {}
    for n in range(PERSONALITIES):
        vendor = vendors[n % len(vendors)]
        if n % 10 < 7:
            match = {keys.PCI_MATCH: f"0x{0x1000 + n:04x}{vendor:04x} 0x{0x5000 + n:04x}{vendor:04x}"}
        elif n % 10 < 9:
            match = {keys.PCI_PRIMARY_MATCH: f"0x{0x9000 + n:04x}{vendor:04x}&0xffffffff "
                                             f"0x{0xA000 + n:04x}{vendor:04x}&0xffffffff"}
        else:
            match = {keys.PCI_CLASS_MATCH: "0x02000000&0xffff0000"}
        tables[f"P{n}"] = {keys.CLASS: f"BenchPCI{n}", keys.PROVIDER_CLASS: "IOPCIDevice",
                           keys.BUNDLE_IDENTIFIER: "com.bench.pci", **match}
    return tables


def _pci_trivial(nubs: list[NubSpec], tables: dict[str, dict[str, Any]]) -> Callable[[], int]:
    """Registers and ``(value, mask)`` pairs parsed beforehand; one ``any`` per candidate."""
    def cell(nub: NubSpec, key: str) -> int:
        return int.from_bytes(nub.properties[key], "little")

    registers = [(cell(n, "device-id") << 16 | cell(n, "vendor-id"),
                  cell(n, "subsystem-id") << 16 | cell(n, "subsystem-vendor-id"),
                  cell(n, "class-code") << 8 | cell(n, "revision-id")) for n in nubs]
    parsed = []
    for table in tables.values():
        for key, index in ((keys.PCI_MATCH, 0), (keys.PCI_PRIMARY_MATCH, 0),
                           (keys.PCI_CLASS_MATCH, 2)):
            if key in table:
                pairs = []
                for word in table[key].split():
                    value, _, mask = word.partition("&")
                    m = int(mask, 16) if mask else (0xFFFFFF00 if index == 2 else 0xFFFFFFFF)
                    pairs.append((int(value, 16) & m, m))
                parsed.append((index, tuple(pairs)))

    def loop() -> int:
        hits = 0
        for regs in registers:
            for index, pairs in parsed:
                register = regs[index]
                hits += any(register & m == v for v, m in pairs)
        return hits
    return loop


# -- USB ---------------------------------------------------------------------------------------
def _usb_nubs() -> list[NubSpec]:
    return [NubSpec("IOUSBHostInterface", name=f"if{i}", location=f"{i:x}", properties={
        "idVendor": 0x0A00 + i % 7, "idProduct": 0x4000 + i, "bcdDevice": 0x100,
        "bConfigurationValue": 1, "bInterfaceNumber": i % 3, "bInterfaceClass": 3,
        "bInterfaceSubClass": 1, "bInterfaceProtocol": 1}) for i in range(NUBS)]


def _usb_personalities() -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for n in range(PERSONALITIES):
        if n % 2:
            match: dict[str, Any] = {"idVendor": 0x05AC + n % 9, "idProduct": 0x8000 + n,
                                     "bConfigurationValue": 1, "bInterfaceNumber": 0}
        else:
            match = {"bInterfaceClass": 0xFE, "bInterfaceSubClass": n % 4 + 1}
        tables[f"U{n}"] = {keys.CLASS: f"BenchUSB{n}", keys.PROVIDER_CLASS: "IOUSBHostInterface",
                           keys.BUNDLE_IDENTIFIER: "com.bench.usb", **match}
    return tables


def _usb_trivial(nubs: list[NubSpec], tables: dict[str, dict[str, Any]]) -> Callable[[], int]:
    """The nub's ids and each personality's wanted ids as tuples; one comparison each."""
    fields = ("idVendor", "idProduct", "bInterfaceClass", "bInterfaceSubClass")
    values = [tuple(n.properties[f] for f in fields) for n in nubs]
    wanted = [tuple(t.get(f) for f in fields) for t in tables.values()]

    def loop() -> int:
        hits = 0
        for have in values:
            for want in wanted:
                hits += all(w is None or w == h for w, h in zip(want, have))
        return hits
    return loop


# -- measuring ---------------------------------------------------------------------------------
def _booted(tables: dict[str, dict[str, Any]]) -> tuple[IOKitHost, IOService]:
    root = NubSpec("IOPlatformExpertDevice", name="BenchMac")
    kexts = [KextBundle(bundle_id="com.bench.family", version="1.0", version_value=1,
                        personalities=tables)] if tables else []
    host = IOKitHost(MachineModel("bench", "generated", root), kexts=kexts).boot()
    platform = host.find("BenchMac")
    assert platform is not None
    return host, platform


def _plugging(nubs: list[NubSpec], tables: dict[str, dict[str, Any]]) -> Callable[[], float]:
    """CPU seconds to hot-plug ``nubs`` into a freshly booted host (the boot is not timed;
    CPU time as tests/bench/timing.py explains)."""
    def run() -> float:
        host, platform = _booted(tables)
        gc.collect()
        start = time.process_time()
        for nub in nubs:
            host.plug(nub, platform)
        elapsed = time.process_time() - start
        assert host.summary().drivers_started == 0  # every candidate was refused
        return elapsed
    return run


def _timed(call: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        gc.collect()
        start = time.process_time()
        call()
        return time.process_time() - start
    return run


def _per_candidate_ratio(nubs: list[NubSpec], tables: dict[str, dict[str, Any]],
                         trivial: Callable[[], int]) -> tuple[float, float, float]:
    variants = {"with": _plugging(nubs, tables), "without": _plugging(nubs, {}),
                "trivial": _timed(trivial)}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            samples[name].append(run())
    median = {name: statistics.median(values) for name, values in samples.items()}
    candidates = len(nubs) * len(tables)
    per_candidate = max(median["with"] - median["without"], 0.0) / candidates
    baseline = median["trivial"] / candidates
    return per_candidate, baseline, per_candidate / baseline


@pytest.mark.parametrize("family", ["PCI", "PCI one vendor", "USB"])
def test_family_matching_per_candidate_within_10x_a_trivial_loop(family: str) -> None:
    if family.startswith("PCI"):
        nubs = _pci_nubs()
        tables = _pci_personalities(NUB_VENDOR if "one" in family else OTHER_VENDORS)
        trivial = _pci_trivial(nubs, tables)
    else:
        nubs, tables = _usb_nubs(), _usb_personalities()
        trivial = _usb_trivial(nubs, tables)
    assert trivial() == 0  # the baseline refuses every candidate too
    per_candidate, baseline, ratio = _per_candidate_ratio(nubs, tables, trivial)
    print(f"\n{family}: {len(nubs)} nubs x {len(tables)} personalities: "
          f"{per_candidate * 1e6:.2f} us per candidate; trivial loop {baseline * 1e6:.2f} us "
          f"(ratio {ratio:.1f}, bound {BOUND})")
    assert ratio <= BOUND
