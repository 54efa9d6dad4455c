"""The loaded-kext table that ``kextstat`` and ``kmutil showloaded`` print (``OSKextCopyLoadedKextInfo``).

What is listed is what a boot loaded and still uses: the kernel components
(``OSKernelResource``: ``com.apple.kpi.*``, ``com.apple.kec.*``, the SDK interface), always
loaded; the kexts with a started driver; and the libraries those link against, directly or not
(a family such as IOPCIFamily appears once a loaded kext links against it). A kext loaded for a
personality that then lost, declined or failed is not listed: the kernel unloads a kext with no
instances (``OSKext::considerUnloads``), so that is what kextstat shows once the boot settles.
The kernel itself (load tag 0, ``__kernel__``) is never printed, as in kextstat.

Each listed kext has a load tag (the Index column: kernel components first, then kexts in load
order), a reference count (here: how many listed kexts link against it), a load address and
size (modelled deterministically: kernel components at 0, kexts packed from the x86_64 kext
base in page units), a UUID (derived from id and version) and the load tags it links against.
Codeless kexts are not loaded (they only publish personalities), so they are not listed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.resolver import Resolution

__all__ = ["HEADER", "LoadedKext", "format_table", "loaded_kexts", "name_uuid"]

HEADER = "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>"
_KEXT_BASE = 0xFFFFFF7F80000000
_PAGE = 0x1000
#: ``uuid.NAMESPACE_URL`` (RFC 4122 appendix C): a kext's UUID is name-based, version 5.
_NAMESPACE_URL = bytes.fromhex("6ba7b8119dad11d180b400c04fd430c8")


@dataclass(frozen=True, slots=True)
class LoadedKext:
    """One row of ``kextstat``: a loaded kext's index, references, addresses and links."""

    index: int
    refs: int
    address: int
    size: int
    wired: int
    bundle_id: str
    version: str
    uuid: str
    linked_against: tuple[int, ...]
    #: Part of the kernel (``OSKernelResource``): what ``kextstat -k`` leaves out.
    kernel_component: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "refs": self.refs, "address": hex(self.address),
                "size": hex(self.size), "wired": hex(self.wired), "bundle_id": self.bundle_id,
                "version": self.version, "uuid": self.uuid,
                "linked_against": list(self.linked_against)}


def loaded_kexts(resolution: Resolution, in_use: Collection[str] | None = None, *,
                 load_order: Sequence[str] = ()) -> tuple[LoadedKext, ...]:
    """Kernel components, then the kexts in use and their libraries, in load order.

    :param in_use: the kexts with a started driver; None takes every kext ``resolution``
        allows (what a boot *could* load).
    :param load_order: the ids in the order the boot loaded them (libraries before the kexts
        that link them), which gives the load tags; others follow in resolution order.
    """
    bundles = _listed(resolution, in_use, load_order)
    tags = {b.bundle_id: i for i, b in enumerate(bundles, start=1)}
    refs = {i: 0 for i in tags}
    for bundle in bundles:
        for dependency in resolution.dependencies(bundle.bundle_id):
            if dependency in refs:
                refs[dependency] += 1
    rows: list[LoadedKext] = []
    address = _KEXT_BASE
    for bundle in bundles:
        size = 0 if bundle.is_kernel_resource else _size(bundle)
        linked = sorted((tags[d] for d in resolution.dependencies(bundle.bundle_id)
                         if d in tags), reverse=True)
        rows.append(LoadedKext(
            tags[bundle.bundle_id], refs[bundle.bundle_id], address if size else 0, size,
            size, bundle.bundle_id, bundle.version, _uuid(bundle), tuple(linked),
            bundle.is_kernel_resource))
        address += size
    return tuple(rows)


def _listed(resolution: Resolution, in_use: Collection[str] | None,
            load_order: Sequence[str]) -> list[KextBundle]:
    """The bundles to list, in load-tag order: the host's own first (part of the kernel)."""
    bundles = list(resolution.builtin)
    kexts = [b for b in resolution.load_order if not b.is_codeless]
    if in_use is not None:
        wanted = _with_libraries(resolution, in_use)
        bundles = [b for b in bundles if b.is_kernel_resource or b.bundle_id in wanted]
        kexts = [b for b in kexts if b.bundle_id in wanted]
    position = {bundle_id: index for index, bundle_id in enumerate(load_order)}
    kexts.sort(key=lambda b: position.get(b.bundle_id, len(position)))
    return [*bundles, *kexts]


def _with_libraries(resolution: Resolution, in_use: Collection[str]) -> set[str]:
    """``in_use`` and every library they link against, directly or through another library."""
    wanted: set[str] = set()
    stack = list(in_use)
    while stack:  # iterative: a library chain is only as deep as the installed kexts make it
        bundle_id = stack.pop()
        if bundle_id not in wanted:
            wanted.add(bundle_id)
            stack.extend(resolution.dependencies(bundle_id))
    return wanted


def _size(bundle: KextBundle) -> int:
    return _PAGE * (2 + len(bundle.personalities) + len(bundle.libraries) // 4)


def _uuid(bundle: KextBundle) -> str:
    return name_uuid(f"kext:{bundle.bundle_id}:{bundle.version}")


def name_uuid(name: str) -> str:
    """``uuid.uuid5(NAMESPACE_URL, name)`` in upper case, as ``kextstat`` prints UUIDs,
    without the ``uuid`` module (whose import, with ``platform``, costs every boot more than
    all the UUIDs it prints)."""
    value = int.from_bytes(hashlib.sha1(_NAMESPACE_URL + name.encode()).digest()[:16], "big")
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    value = (value & ~(0xF000 << 64)) | (5 << 76)  # version 5
    text = f"{value:032X}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def format_table(rows: Sequence[LoadedKext], *, header: bool = True) -> str:
    """kextstat's layout: ``%5d %4d %-18s %-10s %-10s name (version) UUID <deps>``."""
    lines = [HEADER] if header else []
    for row in rows:
        address = hex(row.address) if row.address else "0"
        size = hex(row.size) if row.size else "0"
        line = (f"{row.index:>5} {row.refs:>4} {address:<18} {size:<10} {size:<10} "
                f"{row.bundle_id} ({row.version}) {row.uuid}")
        if row.linked_against:
            line += " <" + " ".join(str(i) for i in row.linked_against) + ">"
        lines.append(line)
    return "\n".join(lines)
