"""The SDK's classes sealed against a driver's patching: a kext that assigns to ``IOService``
(at import or in a hook) fails alone, named, with the class put back; drivers that subclass,
mix in an ABC or a Protocol, or set their own class's attributes are untouched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.values import OSNumber

from iokit_host.kernel.class_seal import ClassSeal

NUB = "pci14e4,4331"
SOURCE = '''\
import abc
import typing

from iokit_sdk import IOService
from iokit_sdk.values import OSNumber

{module}


class Mixin(abc.ABC):
    @abc.abstractmethod
    def helper(self): ...


class Faulty(IOService, Mixin):
    count = 0

    def helper(self):
        return 1

    def start(self, provider):
        type(self).count += 1  # its own class: allowed
        {body}
        return True
'''


def _boot(package_dir: Path, name: str, module: str = "", body: str = "pass") -> tuple[
        list[str], list[str]]:
    """Boot a machine whose wifi nub the faulty kext outbids a vendor driver for; the drivers
    of the nub and the diagnostics."""
    (package_dir / name).mkdir()
    (package_dir / name / "__init__.py").write_text(SOURCE.format(module=module, body=body))
    faulty = kext("com.test.sealed", {"f": personality("Faulty", score=9000)}, package=name)
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    host = make_host([wifi_nub()], [faulty, vendor]).boot()
    return ([d.iokit_class_name for d in host.drivers_of(NUB)],
            [f"{d.reference}: {d.message}" for d in host.diagnostics])


@pytest.mark.parametrize(("body", "what"), [
    ("IOService.get_name = lambda self: 1 / 0", "IOService.get_name added"),
    ("IOService.attach = lambda self, provider: None", "IOService.attach replaced"),
    ("del IOService.terminate", "IOService.terminate deleted"),
], ids=["override-inherited", "replace", "delete"])
def test_a_driver_that_patches_an_sdk_class_in_a_hook_fails_alone_and_it_is_put_back(
        package_dir: Path, body: str, what: str) -> None:
    before = {name: dict(cls.__dict__) for name, cls in (("s", IOService), ("n", OSNumber))}
    drivers, messages = _boot(package_dir, f"sealed_hook_{abs(hash(body))}", body=body)
    assert drivers == ["VendorDriver"]  # the next candidate got the nub, the boot went on
    (message,) = messages
    assert message.startswith("driver-changed-host: Faulty (com.test.sealed) on ")
    assert "start changed the SDK's classes" in message and what in message
    assert {"s": dict(IOService.__dict__), "n": dict(OSNumber.__dict__)} == before


def test_a_value_class_patched_in_a_hook_is_put_back_after_the_job_naming_the_nub(
        package_dir: Path) -> None:
    # The value classes are checked after each work-loop job, not after each call.
    original = OSNumber.__repr__
    drivers, messages = _boot(package_dir, "sealed_value",
                              body="OSNumber.__repr__ = lambda self: 1 / 0")
    (message,) = messages
    assert message.startswith("driver-changed-host: driver code run while the kernel matched ")
    assert "OSNumber.__repr__ replaced; put back" in message
    assert OSNumber.__repr__ is original and repr(OSNumber(5, 8))
    assert drivers  # the boot went on


def test_a_kext_that_patches_an_sdk_class_when_imported_is_not_loaded(
        package_dir: Path) -> None:
    drivers, messages = _boot(package_dir, "sealed_import",
                              module="IOService.get_name = lambda self: 1 / 0\n"
                                     "OSNumber.extra = 1")
    assert drivers == ["VendorDriver"]
    (message,) = messages
    assert message.startswith("driver-changed-host: importing sealed_import changed the "
                              "SDK's classes")
    assert "IOService.get_name added" in message and "OSNumber.extra added" in message
    assert "get_name" not in IOService.__dict__ and not hasattr(OSNumber, "extra")


def test_a_driver_mixing_in_an_abc_and_counting_on_its_own_class_is_untouched(
        package_dir: Path) -> None:
    drivers, messages = _boot(package_dir, "sealed_fine")
    assert drivers == ["Faulty"] and messages == []


def test_the_hosts_own_changes_outside_driver_calls_are_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host([wifi_nub()], [])
    monkeypatch.setattr(IOService, "iokit_test_marker", 1, raising=False)
    assert host.kernel.driver_calls.call(lambda: 7) == 7  # no driver's fault
    assert IOService.iokit_test_marker == 1  # type: ignore[attr-defined]


def test_a_seal_names_and_puts_back_each_kind_of_change() -> None:
    seal = ClassSeal()
    original = IOService.attach
    assert seal.intact() and seal.hot_intact()
    IOService.attach = lambda self, provider: None  # type: ignore[method-assign]
    IOService.iokit_extra = 1  # type: ignore[attr-defined]
    assert not seal.hot_intact()
    assert seal.repair() == ["IOService.attach replaced", "IOService.iokit_extra added"]
    assert IOService.attach is original and not hasattr(IOService, "iokit_extra")
    assert seal.intact() and seal.hot_intact()


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython's version tags")
def test_a_change_is_seen_in_one_read_on_this_interpreter() -> None:
    # Each driver call reads the service classes' sentinel on both sides; where no cheap read
    # exists (3.13 no longer sets the flag bit 3.11 and 3.12 show) every call would compare
    # every SDK class's dictionary instead, some 50 us a call, a boot many times slower.
    seal = ClassSeal()
    assert seal.hot_watch.value and seal.hot_intact()
    IOService.sealed_probe = 1  # type: ignore[attr-defined]
    try:
        assert not seal.hot_watch.value and not seal.intact()
        assert seal.repair() == ["IOService.sealed_probe added"]
    finally:
        if "sealed_probe" in IOService.__dict__:
            del IOService.sealed_probe  # type: ignore[attr-defined]
    assert seal.hot_watch.value and seal.intact()
