"""The loaded-kext table that ``kextstat`` and ``kmutil showloaded`` print (``OSKextCopyLoadedKextInfo``).

Each loaded kext has a load tag (the Index column: kernel components first, then kexts in load
order), a reference count (here: how many loaded kexts link against it), a load address and
size (modelled deterministically: kernel components at 0, kexts packed from the x86_64 kext
base in page units), a UUID (derived from id and version) and the load tags it links against.
Codeless kexts are not loaded (they only publish personalities), so they are not listed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.resolver import Resolution

__all__ = ["HEADER", "LoadedKext", "format_table", "loaded_kexts"]

HEADER = "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>"
_KEXT_BASE = 0xFFFFFF7F80000000
_PAGE = 0x1000


@dataclass(frozen=True, slots=True)
class LoadedKext:
    index: int
    refs: int
    address: int
    size: int
    wired: int
    bundle_id: str
    version: str
    uuid: str
    linked_against: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "refs": self.refs, "address": hex(self.address),
                "size": hex(self.size), "wired": hex(self.wired), "bundle_id": self.bundle_id,
                "version": self.version, "uuid": self.uuid,
                "linked_against": list(self.linked_against)}


def loaded_kexts(resolution: Resolution) -> tuple[LoadedKext, ...]:
    """Kernel components, then every loaded (not codeless) kext in load order."""
    bundles = [*resolution.builtin, *(b for b in resolution.load_order if not b.is_codeless)]
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
            size, bundle.bundle_id, bundle.version, _uuid(bundle), tuple(linked)))
        address += size
    return tuple(rows)


def _size(bundle: KextBundle) -> int:
    return _PAGE * (2 + len(bundle.personalities) + len(bundle.libraries) // 4)


def _uuid(bundle: KextBundle) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kext:{bundle.bundle_id}:{bundle.version}")).upper()


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
