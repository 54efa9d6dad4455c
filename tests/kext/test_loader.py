"""Lazy import of a kext's classes; failures become kext-import-failed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from iokit_host.kext.discovery import discover
from iokit_host.kext.loader import KextLoadError, import_kext_classes

pytestmark = pytest.mark.slow


def test_import_returns_the_driver_classes(kext_site: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(kext_site))
    bundle = discover(path=[str(kext_site)], use_cache=False).find("com.example.demo")[0]
    classes = import_kext_classes(bundle)
    assert [c.iokit_class_name for c in classes] == ["DemoDriver"]
    assert classes[0].class_chain[:2] == ("DemoDriver", "IOService")
    monkeypatch.delitem(sys.modules, "demo_driver")


def test_import_failure_is_reported_not_raised_raw(kext_site: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(kext_site))
    bundle = discover(path=[str(kext_site)], use_cache=False).find("com.example.brokenimport")[0]
    with pytest.raises(KextLoadError) as caught:
        import_kext_classes(bundle)
    assert caught.value.ref == "kext-import-failed"
    assert "broken_import" in str(caught.value) and "no hardware" in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)
