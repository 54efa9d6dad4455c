"""What ``systemextensionsctl list`` shows for one host: every driver extension it knows.

The manager's servers (launched at least once) first, then the catalogued dexts and isolated
kexts nothing has launched yet (``not launched``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from iokit_host.dext.manager import manager_for
from iokit_host.dext.placement import server_name
from iokit_host.dext.records import DextRow

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost

__all__ = ["dext_rows"]


def dext_rows(host: IOKitHost) -> list[DextRow]:
    versions = {b.bundle_id: b.version for b in (host.resolution.load_order
                                                 if host.resolution else ())}
    rows = [replace(row, version=versions.get(row.bundle_id))
            for row in manager_for(host.kernel).rows()]
    seen = {row.server for row in rows}
    for entry in host.catalogue:
        name = server_name(host.kernel, entry)
        bundle_id = entry.bundle_id or ""
        if name is not None and name not in seen:
            seen.add(name)
            rows.append(DextRow(bundle_id, name, None, "not launched", 0, 0, 0, 0,
                                versions.get(bundle_id)))
    return rows
