"""A boot holds back the collector's full passes and restores its thresholds however it ends;
a one-command process freezes what its imports made."""

from __future__ import annotations

import gc
import signal

import pytest
from iokit_sdk import IOService

from iokit_host.host import IOKitHost
from iokit_host.kernel.collector import imports_settled, young_collections_only
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


def test_what_settled_imports_made_is_frozen_and_the_collector_is_on_again() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with imports_settled():
            assert not gc.isenabled()  # no collection while the modules are made
            made = [[n] for n in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
    finally:
        gc.unfreeze()  # this test process goes on: its objects go back to the collector


def test_settled_imports_that_fail_freeze_nothing_and_leave_an_off_collector_off() -> None:
    frozen = gc.get_freeze_count()
    with pytest.raises(ImportError), imports_settled():
        raise ImportError("a command module that does not import")
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        with imports_settled():
            pass
        assert not gc.isenabled()  # a program that turned it off keeps it off
    finally:
        gc.enable()
        gc.unfreeze()
