"""A kext's module code shares the host's import system: a finder or path hook it adds that
raises is "not found" from then on, said once naming the kext, and every later import (the
host's own included) goes on; a finder of the host's it removes is put back."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub

from iokit_host.host import IOKitHost

MODULE = '''\
import sys

from iokit_sdk import IOService


class Finder:
    def find_spec(self, name, path=None, target=None):
        raise RuntimeError("finder broke")

    def find_distributions(self, *args, **kwargs):
        raise RuntimeError("distributions broke")


def hook(path):
    raise ValueError("hook broke")


{body}


class Guarded(IOService):
    pass
'''


@pytest.fixture()
def import_system() -> Iterator[None]:
    """The test process's import system as it was, whatever a test's kext did to it."""
    finders, hooks = list(sys.meta_path), list(sys.path_hooks)
    yield
    sys.meta_path[:], sys.path_hooks[:] = finders, hooks
    sys.path_importer_cache.clear()


def _boot(package_dir: Path, name: str, body: str) -> IOKitHost:
    (package_dir / name).mkdir()
    (package_dir / name / "__init__.py").write_text(MODULE.format(body=body))
    bundle = kext("com.test.guarded", {"g": personality("Guarded", score=9000)}, package=name)
    host = make_host([wifi_nub()], [bundle]).boot()
    assert [d.iokit_class_name for d in host.drivers_of("pci14e4,4331")] == ["Guarded"]
    return host


def _said(host: IOKitHost, reference: str) -> list[str]:
    return [d.message for d in host.diagnostics if d.reference == reference]


def test_a_finder_that_raises_is_not_found_from_then_on_and_said_once(
        package_dir: Path, import_system: None) -> None:
    host = _boot(package_dir, "guarded_finder", "sys.meta_path.insert(0, Finder())")
    sys.modules.pop("graphlib", None)
    importlib.import_module("graphlib")  # a later import of the host's: RuntimeError before
    from importlib.metadata import distributions
    assert any(True for _ in distributions())  # the distributions walk too
    (said,) = _said(host, "driver-import-hook-failed")
    assert said.startswith("the import finder Finder added by kext com.test.guarded raised "
                           "RuntimeError: finder broke")


def test_a_path_hook_that_raises_is_not_asked_again(package_dir: Path, tmp_path: Path,
                                                    import_system: None) -> None:
    host = _boot(package_dir, "guarded_hook", "sys.path_hooks.insert(0, hook)")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "guarded_later_module.py").write_text("VALUE = 7\n")
    sys.path.insert(0, str(tmp_path / "later"))
    try:
        assert importlib.import_module("guarded_later_module").VALUE == 7
    finally:
        sys.path.remove(str(tmp_path / "later"))
        sys.modules.pop("guarded_later_module", None)
    (said,) = _said(host, "driver-import-hook-failed")
    assert "the path hook hook added by kext com.test.guarded raised ValueError" in said


def test_a_finder_of_the_hosts_that_a_kext_removes_is_put_back(
        package_dir: Path, import_system: None) -> None:
    kept = list(sys.meta_path)
    body = ("sys.meta_path[:] = [f for f in sys.meta_path"
            " if getattr(f, '__name__', '') != 'PathFinder']")
    host = _boot(package_dir, "guarded_remover", body)
    assert sys.meta_path == kept
    (said,) = _said(host, "driver-changed-host")
    assert "removed the host's import finder PathFinder; put back" in said
