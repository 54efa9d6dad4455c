"""A boot holds back the collector's full passes and restores its thresholds however it ends."""

from __future__ import annotations

import gc
import signal

import pytest
from iokit_sdk import IOService

from iokit_host.host import IOKitHost
from iokit_host.kernel.collector import young_collections_only
from iokit_host.machine.model import MachineModel, NubSpec


def test_full_collections_are_held_back_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with young_collections_only():
        young, middle, oldest = gc.get_threshold()
        assert (young, middle) == before[:2] and oldest > 10**6
        with young_collections_only():
            assert gc.get_threshold()[2] == oldest
        assert gc.get_threshold()[2] == oldest
    assert gc.get_threshold() == before


_SEEN: list[tuple[int, int, int]] = []


class _Collecting(IOService):
    """A driver whose start looks at the collector the boot runs it under."""

    def start(self, provider: IOService) -> bool:
        _SEEN.append(gc.get_threshold())
        signal.raise_signal(signal.SIGINT)  # Ctrl-C: the boot ends abruptly, inside a driver
        return True


def test_a_boot_ended_by_an_interrupt_leaves_the_thresholds_as_they_were() -> None:
    root = NubSpec("IOPlatformExpertDevice", name="Mac",
                   children=(NubSpec("IOService", name="nub", properties={"k": 1}),))
    host = IOKitHost(MachineModel("m", "", root), kexts=[])
    host.classes.register_kext_classes("com.t", [_Collecting])
    host.catalogue.add_personalities([("p", {"IOProviderClass": "IOService", "IOClass":
                                             "_Collecting", "IOPropertyMatch": {"k": 1}})])
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt):
        host.boot()
    assert _SEEN and _SEEN[0][2] > 10**6  # held during the boot
    assert gc.get_threshold() == before
