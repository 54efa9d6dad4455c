"""A kext class may override its driver methods, never what the kernel reads in its own code:
such a class is refused, with the class and the methods named, and the rest goes on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.dext.remote import KernelService
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.kernel.termination import terminate
from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.sealed import SealedMethodError, sealed_overrides

NUB = "pci14e4,4331"
SOURCE = '''
from iokit_sdk import IOService

__all__ = ["Overrider"]


class Named(IOService):
    def get_name(self, plane=None):
        raise SystemExit("the kernel ran the driver's get_name")


class Overrider(Named):
    def start(self, provider):
        return True
'''


@pytest.fixture
def package_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("sealed_overrider", None)


def test_a_kext_overriding_an_accessor_is_refused_and_the_vendor_drives(
        package_dir: Path) -> None:
    (package_dir / "sealed_overrider").mkdir()
    (package_dir / "sealed_overrider" / "__init__.py").write_text(SOURCE, encoding="utf-8")
    faulty = kext("com.test.overrider", {"o": personality("Overrider", score=9000)},
                  package="sealed_overrider")
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    host = make_host([wifi_nub()], [faulty, vendor]).boot()
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["VendorDriver"]
    (refused,) = [d for d in host.diagnostics
                  if d.reference == "class-overrides-registry-accessor"]
    assert refused.subject == "com.test.overrider" and refused.key == "Overrider"
    assert "class Overrider overrides get_name" in refused.message


def test_a_nub_class_a_driver_did_not_export_is_refused_when_attached() -> None:
    class Compared(IOService):
        def __eq__(self, other: object) -> bool:
            raise SystemExit("the kernel ran the driver's __eq__")

        __hash__ = IOService.__hash__

    class Publisher(IOService):
        def start(self, provider: IOService) -> bool:
            self.attached = Compared().attach(self)
            return True

    host = make_host([wifi_nub()], [kext("com.test.p", {"p": personality("Publisher")})],
                     {"com.test.p": [Publisher]}).boot()
    (driver,) = host.drivers_of(NUB)
    assert driver.attached is False and driver.get_child_entries() == ()  # type: ignore[attr-defined]
    (refused,) = host.diagnostics
    assert refused.reference == "class-overrides-registry-accessor"
    assert "class Compared overrides __eq__, __hash__" in refused.message


def test_registering_refuses_the_whole_kext_and_the_host_classes_are_not_checked() -> None:
    class Fine(IOService):
        def start(self, provider: IOService) -> bool:
            return True

    class Named(IOService):
        def get_name(self, plane: str | None = None) -> str:
            return "mine"

    registry = ClassRegistry()
    with pytest.raises(SealedMethodError):
        registry.register_kext_classes("com.test.n", [Fine, Named])
    assert registry.lookup("Fine") is None  # atomically: none of them
    assert sealed_overrides(KernelService) == ()  # the driver process's own proxies


def test_a_driver_that_prints_itself_its_own_way_is_driven_and_never_printed() -> None:
    """``__repr__``, ``__str__`` and ``__format__`` are the driver's own (its logs): the
    kernel names entries by class and name, so even ones that raise are never run."""

    class Loud(IOService):
        def start(self, provider: IOService) -> bool:
            return True

        def stop(self, provider: IOService) -> None:
            raise RuntimeError("stop fails")

        def __repr__(self) -> str:
            raise SystemExit("the kernel printed the driver")

        __str__ = __repr__

        def __format__(self, spec: str) -> str:
            raise SystemExit("the kernel formatted the driver")

    host = make_host([wifi_nub()], [kext("com.test.loud", {"l": personality("Loud")})],
                     {"com.test.loud": [Loud]}).boot()
    (driver,) = host.drivers_of(NUB)
    assert host.diagnostics == []
    assert "Loud" in render_text(host.registry, IoregOptions(list_properties=True))
    terminate(host.kernel, driver)
    host.kernel.run_until_quiet()
    (stopped,) = host.diagnostics
    assert stopped.reference == "driver-stop-raised" and "Loud" in stopped.message
