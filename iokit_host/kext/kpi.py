"""Libraries the host itself exports: the ``com.apple.kpi.*`` pseudo-kexts and family interfaces.

On a Mac the kernel's own interfaces appear as kexts (System.kext's plug-ins, flagged
``OSKernelResource``) that a driver lists in ``OSBundleLibraries``; the families
(IOPCIFamily, IOUSBHostFamily, ...) are libraries too. Here the host publishes the same
identifiers with versions, so a real kext plist resolves unchanged, plus the SDK's own
interface, ``org.iokit-host.sdk``, versioned from the installed ``iokit-sdk`` distribution so a
Python driver can declare which SDK interface it links against.

Versions model macOS 14 (Darwin 23.6.0); compatible versions are those xnu's and the
families' own Info.plists declare.
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any

from iokit_host.kext import install_index, stamps
from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.stamps import FileStamp
from iokit_host.kext.version import parse_version

__all__ = ["KERNEL_VERSION", "SDK_INTERFACE_ID", "builtin_bundles", "sdk_interface_version"]

KERNEL_VERSION = "23.6.0"
SDK_INTERFACE_ID = "org.iokit-host.sdk"

#: id -> (version, compatible version, interface?) for kernel components (OSKernelResource).
_KERNEL_COMPONENTS: dict[str, tuple[str, str]] = {
    "com.apple.kpi.bsd": (KERNEL_VERSION, "8.0.0"),
    "com.apple.kpi.dsep": (KERNEL_VERSION, "8.0.0"),
    "com.apple.kpi.iokit": (KERNEL_VERSION, "7.0"),
    "com.apple.kpi.kasan": (KERNEL_VERSION, "8.0.0"),
    "com.apple.kpi.libkern": (KERNEL_VERSION, "8.0.0d0"),
    "com.apple.kpi.mach": (KERNEL_VERSION, "8.0.0"),
    "com.apple.kpi.private": (KERNEL_VERSION, "8.0.0b1"),
    "com.apple.kpi.unsupported": (KERNEL_VERSION, "8.0.0b1"),
    "com.apple.kec.corecrypto": ("12.0", "1.0"),
    "com.apple.kec.pthread": ("1", "1.0"),
}

#: Family libraries the modelled machines' nubs belong to (interfaces: no code to start here).
_FAMILIES: dict[str, tuple[str, str]] = {
    "com.apple.iokit.IOACPIFamily": ("1.4", "1.0.0d1"),
    "com.apple.iokit.IOPCIFamily": ("2.9", "1.0.0b1"),
    "com.apple.iokit.IOUSBHostFamily": ("1.2", "1.2"),
    "com.apple.iokit.IOUSBFamily": ("900.4.2", "1.8"),
    "com.apple.iokit.IOHIDFamily": ("2.0.0", "1.0.0b1"),
    "com.apple.iokit.IONetworkingFamily": ("3.4", "1.0.0b1"),
    "com.apple.iokit.IOStorageFamily": ("2.1", "1.0"),
    "com.apple.iokit.IOGraphicsFamily": ("599", "1.0.0b1"),
    "com.apple.iokit.IOSMBusFamily": ("1.1", "1.0.0"),
    "com.apple.iokit.IOAudioFamily": ("600.2", "1.1fc9"),
    "com.apple.iokit.IOSerialFamily": ("11", "1.0.4"),
    "com.apple.iokit.IOReportFamily": ("47", "1.0"),
    "com.apple.driver.AppleSMC": ("3.1.9", "3.1.9"),
}


def sdk_interface_version() -> tuple[str, str]:
    """(version, compatible version) of the SDK interface, from the installed iokit-sdk.

    PEP 440 maps onto kext versions: ``0.1.0`` -> ``0.1.0``, pre-releases ``a``/``b``/``rc``
    -> ``a``/``b``/``fc`` and ``.devN`` -> ``dN``. Within 0.x every minor release may break
    drivers, so the compatible version is ``0.MINOR``; from 1.0 on it is ``MAJOR.0``.
    Kept in the install index (:mod:`~iokit_host.kext.install_index`) between boots.
    """
    return install_index.cached("sdk-interface", _sdk_interface_read, _sdk_interface_parse,
                                (__file__,))


def _sdk_interface_read(started: int) -> tuple[list[str], tuple[FileStamp, ...] | None]:
    """The SDK interface's (version, compatible version), and the files it was read from."""
    from importlib import metadata

    dist = next(iter(metadata.distributions(name="iokit-sdk", path=stamps.search_path())),
                None)
    if dist is None:
        return ["0.1.0", "0.1"], ()  # installing it changes a path entry's folder
    from iokit_host.kext.distributions import metadata_field  # the walk's own, as here

    version = metadata_field(dist, "Version")
    if version is None:  # unreadable (a FIFO in its place): as if it were not installed
        return ["0.1.0", "0.1"], None
    where = getattr(dist, "_path", None)
    read: tuple[FileStamp, ...] | None = None
    if isinstance(where, os.PathLike):
        files = (os.path.join(where, name) for name in ("METADATA", "PKG-INFO"))
        read = tuple(stamps.take(file, started) or FileStamp.absent(file) for file in files)
    return list(_interface_of(version)), read


def _sdk_interface_parse(raw: Any) -> tuple[str, str] | None:
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(s, str) for s in raw):
        return raw[0], raw[1]
    return None


def _interface_of(version: str) -> tuple[str, str]:
    from packaging.version import InvalidVersion, Version

    try:
        release = Version(version)
    except InvalidVersion:
        return "0.1.0", "0.1"
    major, minor, micro = (list(release.release) + [0, 0])[:3]
    text = f"{major % 10000}.{minor % 10000}.{micro % 10000}"
    if release.pre:
        text += {"a": "a", "b": "b", "rc": "fc"}[release.pre[0]] + str(max(1, release.pre[1]))
    elif release.dev is not None:
        text += f"d{min(release.dev, 255)}"
    compat = f"0.{minor}" if major == 0 else f"{major}.0"
    return text, compat


def _bundle(bundle_id: str, version: str, compat: str, *, resource: bool) -> KextBundle:
    return KextBundle(
        bundle_id=bundle_id, version=version, version_value=parse_version(version),
        compatible_version=compat, compatible_version_value=parse_version(compat),
        libraries=MappingProxyType({}), is_interface=True, is_kernel_resource=resource,
        source="<host>")


def builtin_bundles() -> tuple[KextBundle, ...]:
    """The host's exported libraries, kernel components first (as kextstat lists them)."""
    bundles = [_bundle(i, v, c, resource=True) for i, (v, c) in _KERNEL_COMPONENTS.items()]
    version, compat = sdk_interface_version()
    bundles.append(_bundle(SDK_INTERFACE_ID, version, compat, resource=True))
    bundles += [_bundle(i, v, c, resource=False) for i, (v, c) in _FAMILIES.items()]
    return tuple(bundles)
