"""PCI family matching: IOPCIFamily's ``IOPCIBridge::pciMatchNub``, ``matchKeys`` and
``matchNubWithPropertyTable`` (what ``IOPCIDevice::matchPropertyTable`` delegates to).

Four keys compare hex ``value[&mask]`` lists against 32-bit configuration registers; every key
present must match (AND), any entry of a key may (OR):

==========================  ================================================  ===========
key                         register                                          default mask
==========================  ================================================  ===========
``IOPCIMatch``              0x00 (device<<16 | vendor), then 0x2C (subsystem)  0xFFFFFFFF
``IOPCIPrimaryMatch``       0x00                                              0xFFFFFFFF
``IOPCISecondaryMatch``     0x2C (subsystem id<<16 | subsystem vendor)        0xFFFFFFFF
``IOPCIClassMatch``         0x08 (class code<<8 | revision)                   0xFFFFFF00
==========================  ================================================  ===========

**Architecture.** An ``IOPCIMatch`` hit on register 0x00 adds 1000 to the probe score only where
IOPCIFamily is built without ``ACPI_SUPPORT``, i.e. not on Intel. :func:`pci_match_property_table`
takes ``arch`` (``"x86_64"`` by default, as every dump in the corpus is; ``"arm64"`` for Apple
silicon); the table entry used by matching is the x86_64 one.

**Registers from properties.** A nub's registers come from its ``vendor-id``, ``device-id``,
``subsystem-vendor-id``, ``subsystem-id``, ``class-code`` and ``revision-id`` properties: 4-byte
data cells (or numbers, in hand-written models). Intel firmware stores the cells
little-endian; Open Firmware on PowerPC big-endian. The byte order is decided per nub from its
``vendor-id`` cell alone: a vendor id is 16 bits and never 0 (0xFFFF means "no device"), so
exactly one half of the cell is zero -- the high-address half when little-endian
(``<86800000>``), the low-address half when big-endian (``<0000106b>``). A cell that does not
decide (missing, or both halves set) means little-endian. Missing registers read as 0.

**Compiled once.** Matching meets every PCI personality with every PCI nub, so a personality's
four keys are parsed once into ``(value & mask, mask)`` pairs (:func:`compile_pci_table`, kept
by the matching plan) and a nub's registers read once per matching pass (:func:`pci_facts`), as
IOPCIFamily reads ``savedConfig`` rather than the properties. A compiled table also knows the
vendor ids a nub must have (in register 0x00 or 0x2C) to be matched at all, when its keys say
(:attr:`PCITable.vendors`), which lets a matching pass skip it for other vendors, as kmod's
alias tables are indexed by vendor.

**Thunderbolt.** On a nub with ``IOPCITunnelled`` = true, a personality whose ``IOClass`` is not
``IOPCI2PCIBridge`` is refused unless it says ``IOPCITunnelCompatible`` = true (the configurator's
``kIOPCIConfiguratorCheckTunnel`` policy; :class:`TunnelPolicy` can relax it to refusing only an
explicit false, or tighten it to refusing all drivers, ``kIOPCIConfiguratorNoTunnelDrv``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import (
    CLASS,
    PCI_CLASS_MATCH,
    PCI_MATCH,
    PCI_PRIMARY_MATCH,
    PCI_SECONDARY_MATCH,
    PCI_TUNNEL_COMPATIBLE,
)

__all__ = [
    "ARCHITECTURES",
    "PCI_KEYS",
    "PCI_TUNNELLED",
    "MatchEntry",
    "PCIFacts",
    "PCIRegisters",
    "PCITable",
    "TunnelPolicy",
    "compile_pci_table",
    "match_entries",
    "match_keys",
    "pci_facts",
    "pci_failed_key",
    "pci_failure",
    "pci_family_match",
    "pci_match_compiled",
    "pci_match_nub",
    "pci_match_property_table",
    "pci_registers",
    "tunnel_allows",
]

ARCHITECTURES = ("x86_64", "arm64")
#: The keys PCI matching reads from a personality.
PCI_KEYS = (PCI_MATCH, PCI_PRIMARY_MATCH, PCI_SECONDARY_MATCH, PCI_CLASS_MATCH)
#: Set (true) by IOPCIFamily on nubs behind a Thunderbolt tunnel (``gIOPCITunnelledKey``).
PCI_TUNNELLED = "IOPCITunnelled"
PRIMARY_BONUS = 1000
_ALL = 0xFFFFFFFF
_CLASS_MASK = 0xFFFFFF00
_ULONG_MAX = (1 << 64) - 1
_STRTOUL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)")
_MASK_START = re.compile(r" *&")


@dataclass(frozen=True, slots=True)
class PCIRegisters:
    """The three configuration-space dwords matching reads (``savedConfig``)."""

    id: int  # 0x00: device id << 16 | vendor id
    class_revision: int  # 0x08: class code << 8 | revision id
    subsystem: int  # 0x2C: subsystem id << 16 | subsystem vendor id


@dataclass(frozen=True, slots=True)
class TunnelPolicy:
    """The configurator flags that govern drivers on Thunderbolt-tunnelled nubs.

    :param check_tunnel: ``kIOPCIConfiguratorCheckTunnel``: refuse unless the personality
        says ``IOPCITunnelCompatible`` = true. When False only an explicit false refuses.
    :param no_tunnel_drivers: ``kIOPCIConfiguratorNoTunnelDrv``: refuse every driver.
    """

    check_tunnel: bool = True
    no_tunnel_drivers: bool = False


def pci_registers(nub: IORegistryEntry) -> PCIRegisters:
    """The nub's registers 0x00, 0x08 and 0x2C from its properties (byte order: module doc)."""
    little = _little_endian(nub.get_property("vendor-id"))

    def cell(key: str) -> int:
        return _cell_value(nub.get_property(key), little)

    return PCIRegisters(
        id=(cell("device-id") & 0xFFFF) << 16 | (cell("vendor-id") & 0xFFFF),
        class_revision=(cell("class-code") & 0xFFFFFF) << 8 | (cell("revision-id") & 0xFF),
        subsystem=(cell("subsystem-id") & 0xFFFF) << 16 | (cell("subsystem-vendor-id") & 0xFFFF),
    )


@dataclass(frozen=True, slots=True)
class PCIFacts:
    """What PCI matching reads of one nub, read once per matching pass."""

    registers: PCIRegisters
    tunnelled: bool  # IOPCITunnelled is true


def pci_facts(nub: IORegistryEntry) -> PCIFacts:
    return PCIFacts(pci_registers(nub), nub.get_property(PCI_TUNNELLED) is True)


#: ``(value & mask, mask)`` pairs of one key; empty when the value is not a string.
Pairs = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class PCITable:
    """A personality's PCI keys, parsed once (:func:`compile_pci_table`).

    :param match: ``IOPCIMatch``'s pairs, None when absent.
    :param checks: the other keys present, in ``pciMatchNub``'s order: ``(key, pairs,
        register index)`` with 0 = 0x00, 1 = 0x08, 2 = 0x2C.
    :param bridge: ``IOClass`` is ``IOPCI2PCIBridge`` (exempt from the tunnel rule).
    :param compatible: ``IOPCITunnelCompatible``, or None when absent.
    :param vendors: vendor ids of which the nub's register 0x00 or 0x2C must carry one for any
        match (None when the keys do not bound it); empty when nothing can match.
    :param table: the personality, for the sentence saying why it failed.
    """

    match: Pairs | None
    checks: tuple[tuple[str, Pairs, int], ...]
    bridge: bool
    compatible: object
    vendors: frozenset[int] | None
    table: Mapping[str, Any]


def compile_pci_table(table: Mapping[str, Any]) -> PCITable:
    match = _pairs(table[PCI_MATCH], _ALL) if PCI_MATCH in table else None
    checks = tuple((key, _pairs(table[key], mask), index)
                   for key, index, mask in ((PCI_PRIMARY_MATCH, 0, _ALL),
                                            (PCI_SECONDARY_MATCH, 2, _ALL),
                                            (PCI_CLASS_MATCH, 1, _CLASS_MASK))
                   if key in table)
    compatible = table.get(PCI_TUNNEL_COMPATIBLE)
    return PCITable(match, checks, table.get(CLASS) == "IOPCI2PCIBridge", compatible,
                    _vendors(match, checks), table)


def _pairs(keys: object, default_mask: int) -> Pairs:
    if not isinstance(keys, str):
        return ()  # matches nothing (matchKeys reads only strings)
    pairs = []
    for entry in match_entries(keys):
        mask = default_mask if entry.mask is None else entry.mask
        pairs.append((entry.value & mask, mask))
    return tuple(pairs)


def _vendors(match: Pairs | None, checks: tuple[tuple[str, Pairs, int], ...]
             ) -> frozenset[int] | None:
    """The vendor ids one key's pairs pin down (each pair's mask covers the vendor half of a
    register 0x00 or 0x2C); None when no key pins them."""
    bounded = [] if match is None else [match]
    bounded.extend(pairs for _, pairs, index in checks if index != 1)
    for pairs in bounded:
        if all(mask & 0xFFFF == 0xFFFF for _, mask in pairs):
            return frozenset(value & 0xFFFF for value, _ in pairs)
    return None


def _hit(pairs: Pairs, register: int) -> bool:
    for value, mask in pairs:
        if register & mask == value:
            return True
    return False


def pci_match_compiled(form: PCITable, registers: PCIRegisters
                       ) -> tuple[bool, str | None, bool]:
    """:func:`pci_match_nub` on a compiled table: ``(matched, failed key, primary hit)``."""
    primary_hit = False
    if form.match is not None:
        primary_hit = _hit(form.match, registers.id)
        if not primary_hit and not _hit(form.match, registers.subsystem):
            return False, PCI_MATCH, False
    for key, pairs, index in form.checks:
        register = (registers.id if index == 0 else registers.class_revision if index == 1
                    else registers.subsystem)
        if not _hit(pairs, register):
            return False, key, primary_hit
    return True, None, primary_hit


def _tunnel_allows(form: PCITable, tunnelled: bool, policy: TunnelPolicy) -> bool:
    if not tunnelled or form.bridge:
        return True
    if policy.no_tunnel_drivers or form.compatible is False:
        return False
    return form.compatible is True or not policy.check_tunnel


def pci_family_match(form: PCITable, facts: PCIFacts, score: int, *, arch: str = "x86_64",
                     policy: TunnelPolicy = TunnelPolicy()
                     ) -> tuple[bool, int, tuple[str, Callable[[], str]] | None]:
    """``matchPropertyTable`` and, on a refusal, :func:`pci_failure`'s answer, in one go on a
    compiled table and a nub's facts: ``(matched, score, failure)``."""
    registers = facts.registers
    matched, failed, primary_hit = pci_match_compiled(form, registers)
    if not matched and failed is not None:
        table = form.table
        return False, score, (failed, lambda: _register_reason(failed, table[failed], registers))
    if not _tunnel_allows(form, facts.tunnelled, policy):
        return False, score, _tunnel_failure(form.table)
    if primary_hit and arch == "arm64":
        score += PRIMARY_BONUS
    return True, score, None


def _tunnel_failure(table: Mapping[str, Any]) -> tuple[str, Callable[[], str]]:
    return PCI_TUNNEL_COMPATIBLE, lambda: (
        f"the nub is behind a Thunderbolt tunnel ({PCI_TUNNELLED}) and the personality's "
        f"{PCI_TUNNEL_COMPATIBLE} is {table.get(PCI_TUNNEL_COMPATIBLE, 'absent')}, not true")


def _little_endian(vendor: object) -> bool:
    if isinstance(vendor, bytes) and len(vendor) == 4:
        low, high = vendor[:2], vendor[2:]
        if high == b"\0\0" and low != b"\0\0":
            return True
        if low == b"\0\0" and high != b"\0\0":
            return False
    return True


def _cell_value(value: object, little: bool) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and value:
        return int.from_bytes(value[:4], "little" if little else "big")
    return 0


def _strtoul(text: str, pos: int) -> tuple[int, int] | None:
    """C ``strtoul(..., 16)`` truncated to 32 bits: (value, end) or None when nothing parses."""
    match = _STRTOUL.match(text, pos)
    if match is None:
        return None
    value = min(int(match.group(2), 16), _ULONG_MAX)
    if match.group(1) == "-":
        value = -value % (1 << 64)
    return value & _ALL, match.end()


class MatchEntry(NamedTuple):
    """One ``value[&mask]`` entry of a PCI match string, as ``matchKeys`` reads it.

    :param mask: the entry's own mask, None when it has none (the key's default applies).
    :param end: where parsing goes on after it.
    :param mask_missing: an ``&`` had no number after it (read as mask 0: every register
        matches).
    """

    value: int
    mask: int | None
    end: int
    mask_missing: bool = False


def match_entries(text: str) -> Iterator[MatchEntry]:
    """The entries of a PCI match string in order. Parsing stops at the first token that is
    not a number: the last entry's ``end`` says where (text after it is never read)."""
    pos = 0
    while (parsed := _strtoul(text, pos)) is not None:
        value, pos = parsed
        mask: int | None = None
        missing = False
        amp = _MASK_START.match(text, pos)
        if amp is not None:
            masked = _strtoul(text, amp.end())
            mask, pos = masked if masked is not None else (0, amp.end())
            missing = masked is None
        yield MatchEntry(value, mask, pos, missing)


def match_keys(keys: object, register: int, default_mask: int) -> bool:
    """``IOPCIBridge::matchKeys``: does any ``value[&mask]`` entry of ``keys`` match ``register``?

    Entries are hex numbers (``0x`` optional) separated by white space (:func:`match_entries`).
    A value that is not a string matches nothing.
    """
    if not isinstance(keys, str):
        return False
    for entry in match_entries(keys):
        mask = default_mask if entry.mask is None else entry.mask
        if entry.value & mask == register & mask:
            return True
    return False


def pci_match_nub(registers: PCIRegisters, table: Mapping[str, Any]) -> tuple[bool, str | None, bool]:
    """``pciMatchNub`` on registers: ``(matched, failed key, primary IOPCIMatch hit)``."""
    return pci_match_compiled(compile_pci_table(table), registers)


def tunnel_allows(nub: IORegistryEntry, table: Mapping[str, Any],
                  policy: TunnelPolicy = TunnelPolicy()) -> bool:
    """``matchNubWithPropertyTable``'s Thunderbolt rule (see the module doc)."""
    return _tunnel_allows(compile_pci_table(table), nub.get_property(PCI_TUNNELLED) is True,
                          policy)


def pci_match_property_table(nub: IORegistryEntry, table: Mapping[str, Any], score: int, *,
                             arch: str = "x86_64",
                             policy: TunnelPolicy = TunnelPolicy()) -> tuple[bool, int]:
    """``IOPCIDevice::matchPropertyTable``: ``(matched, score)`` for ``table`` on ``nub``.

    :param arch: ``"x86_64"`` (no score bonus) or ``"arm64"`` (+1000 on a primary IOPCIMatch).
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, not {arch!r}")
    matched, score, _ = pci_family_match(compile_pci_table(table), pci_facts(nub), score,
                                         arch=arch, policy=policy)
    return matched, score


def pci_failed_key(nub: IORegistryEntry, table: Mapping[str, Any],
                   policy: TunnelPolicy = TunnelPolicy()) -> str | None:
    """The key that made ``table`` fail on ``nub`` (for explanations), or None when it matches."""
    failure = pci_failure(nub, table, policy)
    return None if failure is None else failure[0]


def pci_failure(nub: IORegistryEntry, table: Mapping[str, Any],
                policy: TunnelPolicy = TunnelPolicy()) -> tuple[str, Callable[[], str]] | None:
    """Why ``table`` fails on ``nub``: the key and a function that says why with the values
    (for ``IOPCIMatch``: ``wants 0x10d38086; device register is 0x153a8086, subsystem register
    is 0x00000000``), or None when it matches.

    The sentence is worked out only when read: a boot rejects most candidates and never asks.
    """
    return pci_family_match(compile_pci_table(table), pci_facts(nub), 0, policy=policy)[2]


_REGISTER_NAMES = {
    PCI_PRIMARY_MATCH: (("device", "id"),),
    PCI_MATCH: (("device", "id"), ("subsystem", "subsystem")),
    PCI_SECONDARY_MATCH: (("subsystem", "subsystem"),),
    PCI_CLASS_MATCH: (("class", "class_revision"),),
}


_SHOWN_WORDS = 8
_SHOWN_CHARS = 160


def _register_reason(key: str, wanted: object, registers: PCIRegisters) -> str:
    if not isinstance(wanted, str):
        small = type(wanted) in (bool, float) or (type(wanted) is int
                                                 and wanted.bit_length() <= 64)
        shown = f" {wanted!r}" if small else ""  # a container or a huge int: its type alone
        return (f"not a string of hex value&mask words but {type(wanted).__name__}{shown}, "
                "so it matches nothing")
    words = wanted.split()
    values = " ".join(words[:_SHOWN_WORDS]) or "nothing"
    if len(values) > _SHOWN_CHARS:  # a message quotes a value, never megabytes of it
        values = values[:_SHOWN_CHARS] + "..."
    if len(words) > _SHOWN_WORDS:
        values += f" (and {len(words) - _SHOWN_WORDS} more)"
    actual = ", ".join(f"{label} register is 0x{getattr(registers, field):08x}"
                       for label, field in _REGISTER_NAMES[key])
    return f"wants {values}; {actual}"
