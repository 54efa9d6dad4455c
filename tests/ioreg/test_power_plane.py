"""``ioreg -p IOPower``: the power tree as a Mac shows it (checked against a real Mac's
IORegistryExplorer archive), and ``-l`` with the live ``IOPowerManagement`` values."""

from __future__ import annotations

import itertools
import plistlib
import re
from pathlib import Path
from typing import Any

import pytest

from iokit_host.cli import main
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text

MAC_MINI = "archives/khronokernel__DarwinDumped__MacMini_MacMini6_2_MacMini6_2-ioreg.zip__" \
           "Macmini6,2.ioreg"
_LINE = re.compile(r"^([ |]*)\+-o (.+?)  <class (\w+)")


def _tree(text: str) -> list[tuple[int, str]]:
    """(depth, class) per ``+-o`` line."""
    found = [_LINE.match(line) for line in text.splitlines()]
    return [(len(m.group(1)) // 2, m.group(3)) for m in found if m]


def _archive_power_plane(path: Path, depth: int) -> list[tuple[int, str]]:
    """(depth, class) of a real Mac's IOPower plane, from its IORegistryExplorer archive."""
    archive = plistlib.loads(path.read_bytes())
    objects = archive["$objects"]

    def get(ref: Any) -> Any:
        return objects[ref.data] if isinstance(ref, plistlib.UID) else ref

    def children(entry: dict[str, Any]) -> list[Any]:
        planes = get(entry["childrenInPlanes"])
        named = {get(k): v for k, v in zip(planes["NS.keys"], planes["NS.objects"], strict=True)}
        return [get(c) for c in get(named["IOPower"])["NS.objects"]] if "IOPower" in named \
            else []

    root = get(get(objects[1]["registryEntries"])["NS.objects"][0])
    found: list[tuple[int, str]] = []
    stack = [(root, 0)]
    while stack:
        entry, level = stack.pop()
        found.append((level, get(get(entry["inheritance"])["NS.objects"][0])))
        if level < depth:
            stack.extend((child, level + 1) for child in reversed(children(entry)))
    return found


def test_the_power_tree_opens_as_on_a_real_mac(corpus: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ioreg", "-p", "IOPower", "-w", "0", "--only-kexts"]) == 0
    ours = _tree(capsys.readouterr().out)
    real = _archive_power_plane(corpus / MAC_MINI, 4)
    # Root -> IORootParent -> IOPowerConnection -> IOPMrootDomain -> IOPowerConnection -> ...
    assert ours[:5] == real[:5] == [(0, "IORegistryEntry"), (1, "IORootParent"),
                                    (2, "IOPowerConnection"), (3, "IOPMrootDomain"),
                                    (4, "IOPowerConnection")]
    # below the root domain, power parents and children alternate with connections
    for (level, cls), (_, below) in itertools.pairwise(ours[3:]):
        if below != "IOPowerConnection" and cls != "IOPowerConnection":
            pytest.fail(f"{cls} at depth {level} is linked without an IOPowerConnection")


def test_dash_l_shows_the_live_power_management_values() -> None:
    host = IOKitHost(kexts=[]).boot()
    options = IoregOptions(plane="IOPower", list_properties=True, name="ARPT")
    assert '"CurrentPowerState"=2' in render_text(host.registry, options)
    host.sleep()
    asleep = render_text(host.registry, options)
    assert '"CurrentPowerState"=0' in asleep
    assert '"IOPowerManagement" = {' in asleep
    host.wake()
    assert '"CurrentPowerState"=2' in render_text(host.registry, options)
