"""Loading kexts on first match: lazily, libraries first, failures remembered and reported once."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub

from iokit_host.host import IOKitHost

NUB = "pci14e4,4331"


def _write_package(root: Path, name: str, body: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(textwrap.dedent(body))


def _references(host: IOKitHost) -> list[str]:
    return [d.reference for d in host.diagnostics]


def test_kexts_are_imported_only_when_a_personality_survives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported"
    _write_package(tmp_path, "neverkext", f"""
        open({str(marker)!r}, "w").write("yes")
        raise ImportError("must never be imported")
    """)
    _write_package(tmp_path, "lazykext", """
        from iokit_sdk import IOService
        class LazyDriver(IOService):
            pass
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    never = kext("com.test.never", {"p": personality(
        "Never", score=99999, IOPropertyMatch={"vendor-id": b"\x86\x80\x00\x00"})},
        package="neverkext")
    lazy = kext("com.test.lazy", {"p": personality("LazyDriver", score=1000)},
                package="lazykext")
    host = make_host([wifi_nub()], [never, lazy]).boot()
    assert not marker.exists() and "neverkext" not in sys.modules
    assert host.drivers_of(NUB)[0].iokit_class_name == "LazyDriver"
    assert list(host.kernel.binder.loaded_kexts) == ["com.test.lazy"]
    assert host.classes.owner_of("LazyDriver") == "com.test.lazy"


def test_a_kext_that_fails_to_import_is_reported_once_and_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_package(tmp_path, "brokenkext", "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = kext("com.test.broken", {"p": personality("X", score=900)}, package="brokenkext")
    host = make_host([wifi_nub(), wifi_nub(location="1")], [broken]).boot()
    assert _references(host).count("kext-import-failed") == 1
    assert host.explain("pci14e4,4331@1").outcome_of("X").outcome == "kext-load-failed"
    assert host.drivers_of("pci14e4,4331@1") == []


def test_a_library_kext_is_loaded_before_the_kext_that_links_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    order = tmp_path / "order"
    for package, driver in (("famlib", "FamilyDriver"), ("vendorkext", "VendorDriver")):
        _write_package(tmp_path, package, f"""
            from iokit_sdk import IOService
            with open({str(order)!r}, "a") as log:
                log.write("{package}\\n")
            class {driver}(IOService):
                pass
        """)
    monkeypatch.syspath_prepend(str(tmp_path))
    family = kext("com.test.family", {}, package="famlib", version="2.0", compatible="1.0",
                  libraries={"com.apple.kpi.iokit": "8.0"})
    vendor = kext("com.test.vendor", {"p": personality("VendorDriver", score=5000)},
                  package="vendorkext",
                  libraries={"com.apple.kpi.iokit": "8.0", "com.test.family": "1.5"})
    host = make_host([wifi_nub()], [vendor, family]).boot()
    assert host.drivers_of(NUB)[0].iokit_class_name == "VendorDriver"
    assert order.read_text().split() == ["famlib", "vendorkext"]
    # The host's own libraries are part of the kernel: linked against, never "loaded".
    assert list(host.kernel.binder.loaded_kexts) == ["com.test.family", "com.test.vendor"]


def test_a_kext_whose_library_fails_is_refused_and_the_library_reported_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_package(tmp_path, "brokenlib", "raise ImportError('no such firmware')\n")
    _write_package(tmp_path, "userkext", """
        from iokit_sdk import IOService
        class UserDriver(IOService):
            pass
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    library = kext("com.test.brokenlib", {}, package="brokenlib", version="2.0",
                   compatible="1.0")
    user = kext("com.test.user", {"p": personality("UserDriver", score=5000)},
                package="userkext", libraries={"com.apple.kpi.iokit": "8.0",
                                               "com.test.brokenlib": "1.0"})
    host = make_host([wifi_nub(), wifi_nub(location="1")], [user, library]).boot()
    assert _references(host).count("kext-import-failed") == 1
    assert "userkext" not in sys.modules
    for nub in (f"{NUB}@0", f"{NUB}@1"):  # the second match is refused without a retry
        fate = host.explain(nub).outcome_of("UserDriver")
        assert (fate.outcome, fate.reason) == (
            "kext-load-failed", "library com.test.brokenlib failed to load")
        assert host.drivers_of(nub) == []
    assert list(host.kernel.binder.loaded_kexts) == []


def test_a_kext_exiting_at_import_is_refused_and_the_boot_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_package(tmp_path, "exitkext", "import sys\nsys.exit('no hardware here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    exiting = kext("com.test.exit", {"p": personality("Exiting", score=5000)},
                   package="exitkext")
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    host = make_host([wifi_nub()], [exiting, vendor]).boot()
    assert host.drivers_of(NUB)[0].iokit_class_name == "VendorDriver"
    (failure,) = host.diagnostics
    assert failure.reference == "kext-import-failed"
    assert failure.message == "importing exitkext raised SystemExit: no hardware here"
