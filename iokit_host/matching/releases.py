"""The OS release a machine records, on the axis class ancestry changes along.

A superclass can change between releases (``AppleMCCSControlModule`` is an ``IOService`` up to
Mac OS X 10.7.2 and an ``AppleMCCSControlFamily`` from 10.7.4), so the ancestry that holds for a
machine follows the release it runs. The kernel publishes it on the registry root: ``OS Build
Version`` (``12C60``: Darwin major 12, the ``C`` update, build 60) and ``IOKitBuildVersion``
(``Darwin Kernel Version 12.2.0: ...; root:xnu-2050.18.24~1/RELEASE_X86_64``), as
``IOKitBuildVersion``/``OSBuildVersion`` in xnu's ``IOKitDiagnostics``/``IOPlatformExpert``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OSRelease", "release_of"]

_BUILD = re.compile(r"(\d{1,2})([A-Z])(\d{1,5})([a-z]?)")
_KERNEL = re.compile(r"Darwin Kernel Version (\d{1,2})\.")


@dataclass(frozen=True, slots=True, order=True)
class OSRelease:
    """A release: Darwin major, the build's update letter and number (0 and ``""`` when only
    the Darwin major is known). Orders as Apple numbers builds: ``9L30 < 10A432 < 12C60``.

    :param text: what it was read from (``12C60``), for messages; not compared.
    """

    darwin: int
    letter: str = ""
    number: int = 0
    text: str = field(default="", compare=False)

    @classmethod
    def from_build(cls, build: str) -> OSRelease | None:
        """``12C60`` (or ``10D2063a``, a seed) as a release; None when it is not a build code."""
        match = _BUILD.fullmatch(build.strip())
        if match is None:
            return None
        return cls(int(match.group(1)), match.group(2), int(match.group(3)), build.strip())

    def distance(self, other: OSRelease) -> tuple[int, int, int]:
        """How far apart two releases are: major first, then update, then build. An unknown
        update (``""``) counts as near every update of its major."""
        updates = (0 if not (self.letter and other.letter)
                   else abs(ord(self.letter) - ord(other.letter)))
        builds = abs(self.number - other.number) if self.letter and other.letter else 0
        return (abs(self.darwin - other.darwin), updates, builds)

    def __str__(self) -> str:
        return self.text or f"Darwin {self.darwin}"


def release_of(root_properties: Mapping[str, Any]) -> OSRelease | None:
    """The release a machine records on its root: ``OS Build Version`` when it is a build
    code, else the Darwin major of ``IOKitBuildVersion``; None when it records neither."""
    build = _text(root_properties.get("OS Build Version"))
    if build is not None and (release := OSRelease.from_build(build)) is not None:
        return release
    kernel = _text(root_properties.get("IOKitBuildVersion"))
    if kernel is not None and (match := _KERNEL.search(kernel)) is not None:
        return OSRelease(int(match.group(1)), text=f"Darwin {match.group(1)}")
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):  # a device-tree style C string
        value = value.split(b"\0", 1)[0].decode("ascii", errors="replace")
    return value if isinstance(value, str) else None
