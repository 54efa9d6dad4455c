"""Admitting host plugins: one that cannot load, or that pluggy refuses, is named in a warning
and left out; the other plugins load and the boot goes on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService, hookimpl

from iokit_host.errors import Severity
from iokit_host.host import IOKitHost

IOKIT = Path(sys.executable).with_name("iokit")
SAMPLES = Path(__file__).resolve().parents[2] / "sample_drivers"


class _Driver(IOService):
    pass


class _Tracer:
    def __init__(self) -> None:
        self.started: list[str] = []

    @hookimpl(wrapper=True)
    def iokit_start(self, service: IOService, provider: IOService) -> Generator[None, Any, Any]:
        self.started.append(service.iokit_class_name)
        return (yield)


class _Typo:
    @hookimpl
    def iokit_strat(self, service: IOService) -> None:
        pass


class _WrongArgument:
    @hookimpl
    def iokit_probe(self, service: IOService, device: IOService) -> int:
        return 0


class _WrapperWithoutYield:
    @hookimpl(wrapper=True)
    def iokit_start(self, service: IOService) -> bool:
        return True


class _Callable:
    def __call__(self, service: IOService) -> None:
        pass


class _MarksAnObject:
    iokit_publish = hookimpl(_Callable())


def _host(*plugins: object) -> IOKitHost:
    bundle = kext("com.test.adm", {"d": personality("_Driver", score=900)})
    return make_host([wifi_nub()], [bundle], {"com.test.adm": [_Driver]}, plugins=plugins)


def _about(host: IOKitHost, prefix: str = "host-plugin-") -> list[Any]:
    return [d for d in host.diagnostics if d.reference.startswith(prefix)]


def test_a_plugin_with_an_unknown_hook_is_left_out_and_the_others_run() -> None:
    tracer = _Tracer()
    host = _host(_Typo(), tracer).boot()
    (diagnostic,) = _about(host)
    assert diagnostic.reference == "host-plugin-invalid"
    assert diagnostic.severity is Severity.WARNING
    assert "_Typo object" in diagnostic.message
    assert "'iokit_strat', which is not a hook (did you mean 'iokit_start'?)" in diagnostic.message
    assert diagnostic.hint
    assert tracer.started == ["_Driver"]
    assert host.drivers_of("pci14e4,4331")[0].iokit_class_name == "_Driver"


@pytest.mark.parametrize(("plugin", "reference", "says"), [
    (_WrongArgument(), "host-plugin-invalid", "'device'"),
    (_WrapperWithoutYield(), "host-plugin-invalid", "not a generator function"),
    (_MarksAnObject(), "host-plugin-invalid",
     "marks 'iokit_publish' with @hookimpl, but it is a _Callable, not a function"),
    ("my_tracer", "host-plugin-no-hooks", "pass the plugin object itself"),
    (None, "host-plugin-no-hooks", "implements no hook"),
    (_Tracer, "host-plugin-invalid", "need an instance: pass _Tracer(), not _Tracer"),
])
def test_each_kind_of_invalid_plugin_is_named_and_left_out(plugin: object, reference: str,
                                                           says: str) -> None:
    host = _host(plugin, _Tracer()).boot()
    (diagnostic,) = _about(host)
    assert diagnostic.reference == reference
    assert says in str(diagnostic)
    assert not host.kernel.plugin_manager.is_registered(plugin)
    assert host.drivers_of("pci14e4,4331")[0].iokit_class_name == "_Driver"


# -- installed distributions with an ``iokit`` entry point -----------------------------------
def _install(site: Path, name: str, source: str, entry_points: bytes | None = None) -> None:
    """Lay out an installed distribution (as ``pip install --target`` does) whose ``iokit``
    entry point ``name`` names module ``name``."""
    (site / f"{name}.py").write_text(source)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_bytes(
        entry_points if entry_points is not None else f"[iokit]\n{name} = {name}\n".encode())


TYPO_PLUGIN = """\
from iokit_sdk import hookimpl

@hookimpl
def iokit_attatch(service, provider):
    pass
"""

RAISING_PLUGIN = """\
from iokit_sdk import hookimpl

@hookimpl(tryfirst=True)
def iokit_attach(service, provider):
    raise RuntimeError("policy engine down")
"""

GOOD_PLUGIN = """\
from iokit_sdk import hookimpl
STARTED = []

@hookimpl(wrapper=True)
def iokit_start(service, provider):
    STARTED.append(service.iokit_class_name)
    return (yield)
"""


def test_entry_points_that_cannot_load_are_named_and_the_good_one_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, "exits_on_import", "import sys\nsys.exit('no licence')\n")
    _install(tmp_path, "names_nothing", "", b"[iokit]\nnames_nothing = names_nothing:missing\n")
    _install(tmp_path, "typo_plugin", TYPO_PLUGIN)
    _install(tmp_path, "good_plugin_adm", GOOD_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    host = _host()
    found = {d.key or d.subject: d for d in _about(host)}
    assert "no licence" in found["entry point iokit:exits_on_import"].message
    assert "missing" in found["entry point iokit:names_nothing"].message
    typo = found["typo_plugin"]
    assert typo.reference == "host-plugin-invalid" and "iokit_attatch" in typo.message
    assert "IOKIT_DISABLE_PLUGINS=typo_plugin" in (typo.hint or "")
    assert len(found) == 3
    host.boot()
    import good_plugin_adm  # type: ignore[import-not-found]

    assert good_plugin_adm.STARTED == ["_Driver"]


def test_a_distribution_whose_entry_points_are_not_utf8_costs_at_most_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, "unrelated_dist", "", b"[console_scripts]\nx = caf\xe9:main\n")
    _install(tmp_path, "damaged_plugin", GOOD_PLUGIN,
             b"[iokit]\nbroken = caf\xe9\ndamaged_plugin = damaged_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    host = _host().boot()
    (warning,) = _about(host)
    assert "damaged_plugin" in warning.message and "not UTF-8" in warning.message
    import damaged_plugin  # type: ignore[import-not-found]

    assert damaged_plugin.STARTED == ["_Driver"]  # the undamaged line still loads


def test_iokit_boot_names_a_bad_installed_plugin_and_finishes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "typo_plugin_cli", TYPO_PLUGIN)
    _install(site, "raising_plugin_cli", RAISING_PLUGIN)
    environ = {k: v for k, v in os.environ.items() if k not in ("IOKIT_DEBUG", "IOKIT_STRICT")}
    environ |= {"PYTHONPATH": str(site), "IOKIT_CACHE_DIR": str(tmp_path / "cache")}
    command = [str(IOKIT)] if IOKIT.exists() else [sys.executable, "-m", "iokit_host"]
    kexts = [str(next((SAMPLES / f"iokit-sample-{name}").glob("*/Info.plist")).parent)
             for name in ("wlan-family", "bcm43xx")]  # read as codeless kexts: no install
    done = subprocess.run([*command, "boot", "--only-kexts", "--kext", kexts[0], "--kext",
                           kexts[1]], env=environ, text=True, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "warning[host-plugin-invalid]" in done.stderr and "typo_plugin_cli" in done.stderr
    assert "warning[host-plugin-raised]" in done.stderr
    assert "iokit_attach: host plugin 'raising_plugin_cli' (module raising_plugin_cli) raised " \
           "RuntimeError: policy engine down" in done.stderr
    assert " drivers started, " in done.stdout.splitlines()[-1]
    assert "+-o AppleBCM43xx  <class AppleBCM43xx" in done.stdout  # attached all the same


@pytest.mark.slow
def test_a_pip_installed_plugin_with_an_unknown_hook_is_left_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.kext.dists import pip_install_target, write_wheel

    wheel = write_wheel(tmp_path, "typo-iokit-plugin", "1.0", "typo_iokit_plugin", plist=None,
                        files={"typo_iokit_plugin/__init__.py": TYPO_PLUGIN,
                               "typo_iokit_plugin-1.0.dist-info/entry_points.txt":
                                   "[iokit]\ntypo = typo_iokit_plugin\n"})
    pip_install_target([wheel], tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    host = _host().boot()
    (diagnostic,) = _about(host)
    assert diagnostic.reference == "host-plugin-invalid" and diagnostic.subject == "typo"
    assert "fix or uninstall typo-iokit-plugin" in (diagnostic.hint or "")
    assert host.drivers_of("pci14e4,4331")[0].iokit_class_name == "_Driver"
