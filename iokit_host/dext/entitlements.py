"""A dext's entitlements: what its code signature carries (``IOUserServer::fEntitlements``).

On a Mac the kernel reads a dext's entitlements from the code signature of its executable
(``IOTaskGetEntitlements``), and Xcode signs them in from the target's ``.entitlements`` file,
a property list beside the Info.plist (``PCIDriverKitPEX8733.entitlements`` in IOPCIFamily's
sample). A Python distribution has no signature, so its entitlements are that same file, in
the dext's package beside its ``Info.plist``: ``Entitlements.plist``, or the one file named
``*.entitlements``. It is read without importing the package, like the Info.plist.

A dext with code and no such file has no entitlements, as an unsigned dext: IOKit refuses it
(``com.apple.developer.driverkit`` is missing). A codeless dext (a DriverKit plist from a real
project, without its signed executable) has entitlements only when the file is beside its
plist; without it they are unknown, and not checked. A file that cannot be read is reported
(file and reason) and counts as no entitlements: the dext is refused, the rest goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_host.errors import Diagnostic
from iokit_host.input_file import read_input_file
from iokit_host.kext.plistfile import load_plist

if TYPE_CHECKING:
    from iokit_host.kext.bundle import KextBundle

__all__ = ["ENTITLEMENTS_FILE", "MAX_ENTITLEMENTS_BYTES", "DextEntitlements", "entitlements_of",
           "read_entitlements"]

#: The file name looked for first, beside the dext's Info.plist.
ENTITLEMENTS_FILE = "Entitlements.plist"
#: An entitlements file is a few hundred bytes; anything past this is not one.
MAX_ENTITLEMENTS_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class DextEntitlements:
    """One dext's entitlements (name -> value), or ``known`` False when unknown (a codeless
    dext without its file: nothing is checked)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    known: bool = True
    file: str | None = None

    def holds(self, name: str) -> bool:
        """The entitlement is present (``getObject`` non-NULL), whatever its value."""
        return name in self.values

    def is_true(self, name: str) -> bool:
        """``IOTaskHasEntitlement``: present and boolean true."""
        return self.values.get(name) is True


def entitlements_file(folder: Path) -> Path | None:
    """``Entitlements.plist`` in ``folder``, else its single ``*.entitlements`` file."""
    named = folder / ENTITLEMENTS_FILE
    if named.is_file():
        return named
    try:
        found = sorted(p for p in folder.glob("*.entitlements") if p.is_file())
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


def read_entitlements(path: Path) -> tuple[DextEntitlements, Diagnostic | None]:
    """The entitlements in ``path``; none (and a diagnostic) when it does not read as a
    dictionary of entitlements."""
    try:
        data = read_input_file(path, limit=MAX_ENTITLEMENTS_BYTES)
    except OSError as error:
        return DextEntitlements(file=str(path)), _unreadable(
            path, f"cannot read it: {error.strerror or error}")
    info, problem = load_plist(path, data)
    if problem is not None:
        return DextEntitlements(file=str(path)), _unreadable(path, problem.message)
    names = {k: v for k, v in info.items() if isinstance(k, str)}
    return DextEntitlements(names, file=str(path)), None


def _unreadable(path: Path, reason: str) -> Diagnostic:
    return Diagnostic("dext-entitlements-unreadable", f"{reason}; the dext has no entitlements",
                      file=str(path), hint="an entitlements file is a plist <dict> of "
                      "entitlement names, e.g. com.apple.developer.driverkit = <true/>")


def entitlements_of(bundle: KextBundle | None) -> tuple[DextEntitlements, Diagnostic | None]:
    """The entitlements of the dext ``bundle``, read from beside its Info.plist."""
    if bundle is None or bundle.source is None:
        return DextEntitlements(known=False), None
    folder = Path(bundle.source).parent
    path = entitlements_file(folder)
    if path is None:
        if bundle.package is None:
            return DextEntitlements(known=False), None  # a plist without its signature
        return DextEntitlements(), None  # unsigned: no entitlements at all
    return read_entitlements(path)
