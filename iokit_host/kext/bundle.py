"""KextBundle: one kext's parsed manifest (``OSKext``'s info dictionary, validated).

A kext here is a Python distribution with an entry point in group ``iokit.kexts`` whose package
holds an ``Info.plist`` (or a bare Info.plist / kext folder given with ``--kext``). The bundle is
read without importing any driver code; code is imported only when one of its personalities
survives passive matching.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from iokit_host.errors import Diagnostic, Severity

__all__ = ["DistributionInfo", "KextBundle"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DistributionInfo:
    """The installed distribution a kext came from (None for ``--kext`` paths)."""

    name: str
    version: str
    path: str


@dataclass(frozen=True, slots=True)
class KextBundle:
    """A validated kext manifest.

    :param bundle_id: ``CFBundleIdentifier``.
    :param version: ``CFBundleVersion`` as written; ``version_value`` is its OSKextVersion integer.
    :param compatible_version: ``OSBundleCompatibleVersion`` as written, None when absent
        (then the kext is not a library and can satisfy no dependency).
    :param libraries: ``OSBundleLibraries`` (after the ``_<arch>`` override): id -> requested version.
    :param personalities: ``IOKitPersonalities``: name -> personality dictionary (after the
        kernel's fix-ups: ``CFBundleIdentifier`` filled in, ``IOPersonalityPublisher`` set).
    :param package: the import package that holds the driver classes (the entry point's value),
        None for a codeless kext.
    :param has_executable: True when the kext has code (``CFBundleExecutable`` or a package).
    :param is_dext: a DriverKit extension (``IOUserServerName`` personalities); never has
        kernel code of its own.
    :param source: the Info.plist path it was read from.
    :param distribution: the installed distribution, when it came from one.
    :param info: the raw info dictionary, for ``iokit kext inspect``.
    :param diagnostics: warnings found while reading it (errors refuse the bundle instead).
    """

    bundle_id: str
    version: str
    version_value: int
    compatible_version: str | None = None
    compatible_version_value: int | None = None
    libraries: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    personalities: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)
    package: str | None = None
    has_executable: bool = False
    required: str | None = None
    is_interface: bool = False
    is_kernel_resource: bool = False
    is_dext: bool = False
    source: str | None = None
    distribution: DistributionInfo | None = None
    info: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def is_library(self) -> bool:
        """A library has a compatible version (``isLibrary``: compatibleVersion > 0)."""
        return bool(self.compatible_version_value and self.compatible_version_value > 0)

    @property
    def is_codeless(self) -> bool:
        """No code to load or start: only personalities (and, for a library, its links)."""
        return not self.has_executable and not self.is_interface

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)
