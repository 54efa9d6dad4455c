"""Plugins: the built-in plugin forwards to drivers; host plugins wrap, replace, are disabled."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService, hookimpl
from iokit_sdk.service import TERMINATE_WITH_REMATCH

from iokit_host.host import IOKitHost
from iokit_host.kernel.plugins import BUILTIN_PLUGIN_NAME


class _Driver(IOService):
    def start(self, provider: IOService) -> bool:
        self.set_property("started-by-method", True)
        return True


def _bundle() -> object:
    return kext("com.test.plug", {"d": personality("_Driver", score=900),
                                  "fallback": personality("Fallback", score=100)})


class _Tracer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(wrapper=True)
    def iokit_start(self, service: IOService, provider: IOService) -> Generator[None, bool, bool]:
        self.calls.append(f"before {service.iokit_class_name}")
        result = yield
        self.calls.append(f"after {service.iokit_class_name}: {result}")
        return result


class _FaultInjector:
    """Replaces start for one class: the driver's method never runs."""

    @hookimpl(tryfirst=True)
    def iokit_start(self, service: IOService, provider: IOService) -> bool | None:
        return False if isinstance(service, _Driver) else None


def test_builtin_plugin_calls_the_drivers_method_and_a_wrapper_sees_it() -> None:
    tracer = _Tracer()
    host = make_host([wifi_nub()], [_bundle()], {"com.test.plug": [_Driver]},
                     plugins=[tracer]).boot()
    (driver,) = host.drivers_of("pci14e4,4331")
    assert driver.get_property("started-by-method") is True
    assert tracer.calls == ["before _Driver", "after _Driver: True"]


def test_a_plugin_can_replace_a_call_for_fault_injection() -> None:
    host = make_host([wifi_nub()], [_bundle()], {"com.test.plug": [_Driver]},
                     plugins=[_FaultInjector()]).boot()
    (driver,) = host.drivers_of("pci14e4,4331")
    assert driver.iokit_class_name == "Fallback"
    assert host.explain("pci14e4,4331").outcome_of("_Driver").outcome == "start-failed"


def test_plugins_are_disabled_by_name_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_DISABLE_PLUGINS", "injector, other")
    host = make_host([wifi_nub()], [_bundle()], {"com.test.plug": [_Driver]})
    host.kernel.plugin_manager.register(_FaultInjector(), name="injector")
    host.boot()
    assert host.drivers_of("pci14e4,4331")[0].iokit_class_name == "_Driver"


def test_disable_parameter_blocks_a_plugin_but_never_the_builtin() -> None:
    injector = _FaultInjector()
    host = make_host([wifi_nub()], [_bundle()], {"com.test.plug": [_Driver]},
                     plugins=[injector],
                     disable_plugins=[BUILTIN_PLUGIN_NAME, str(id(injector))]).boot()
    assert host.kernel.plugin_manager.get_plugin(BUILTIN_PLUGIN_NAME) is not None
    assert host.drivers_of("pci14e4,4331")[0].iokit_class_name == "_Driver"


def test_one_plugin_manager_per_host() -> None:
    first = make_host([wifi_nub()], [])
    second = make_host([wifi_nub()], [], plugins=[_Tracer()])
    assert first.kernel.plugin_manager is not second.kernel.plugin_manager
    assert len(first.kernel.plugin_manager.get_plugins()) < \
        len(second.kernel.plugin_manager.get_plugins())


def _install_plugin_dist(site: Path, name: str, module_source: str) -> None:
    """Lay out an installed distribution (as ``pip install --target`` does) with an ``iokit``
    entry point named ``name`` pointing at module ``name``."""
    (site / f"{name}.py").write_text(module_source)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[iokit]\n{name} = {name}\n")


def test_a_broken_host_plugin_is_reported_and_the_others_still_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_plugin_dist(tmp_path, "broken_iokit_plugin", "raise ImportError('missing dep')\n")
    _install_plugin_dist(tmp_path, "tracing_iokit_plugin", (
        "from iokit_sdk.hookspecs import hookimpl\n"
        "STARTED = []\n"
        "@hookimpl(wrapper=True)\n"
        "def iokit_start(service, provider):\n"
        "    STARTED.append(service.iokit_class_name)\n"
        "    return (yield)\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    host = IOKitHost(kexts=[_bundle()])
    failed = [d for d in host.diagnostics if d.reference == "host-plugin-failed"]
    assert len(failed) == 1
    assert "broken_iokit_plugin" in failed[0].message and "missing dep" in failed[0].message
    assert "IOKIT_DISABLE_PLUGINS=broken_iokit_plugin" in (failed[0].hint or "")
    host.boot()
    import tracing_iokit_plugin  # type: ignore[import-not-found]

    assert "_Driver" in tracing_iokit_plugin.STARTED  # a stand-in: the kext is codeless
    monkeypatch.setenv("IOKIT_DISABLE_PLUGINS", "broken_iokit_plugin")
    assert not [d for d in IOKitHost().diagnostics if d.reference == "host-plugin-failed"]


def test_a_plugin_registered_after_boot_sees_the_next_pass_and_leaving_ends_it() -> None:
    """While the built-in plugin is alone a lifecycle call skips pluggy (plugins.caller);
    a plugin or monitor that arrives later sees every call after it, as one given at boot."""
    host = make_host([wifi_nub()], [_bundle()], {"com.test.plug": [_Driver]}).boot()
    manager = host.kernel.plugin_manager
    tracer = _Tracer()
    manager.register(tracer)
    (driver,) = host.drivers_of("pci14e4,4331")
    driver.terminate(TERMINATE_WITH_REMATCH)
    host.kernel.run_until_quiet()
    assert tracer.calls == ["before _Driver", "after _Driver: True"]
    manager.unregister(tracer)
    seen: list[str] = []
    undo = manager.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append(name),
                                           lambda *args: None)
    (driver,) = host.drivers_of("pci14e4,4331")
    driver.terminate(TERMINATE_WITH_REMATCH)
    host.kernel.run_until_quiet()
    assert {"iokit_init", "iokit_attach", "iokit_probe", "iokit_start"} <= set(seen)
    undo()
    (driver,) = host.drivers_of("pci14e4,4331")
    driver.terminate(TERMINATE_WITH_REMATCH)
    host.kernel.run_until_quiet()
    assert tracer.calls == ["before _Driver", "after _Driver: True"]
    assert len(host.drivers_of("pci14e4,4331")) == 1


def test_caller_is_the_builtin_method_only_while_nothing_else_could_see_the_call() -> None:
    manager = make_host([wifi_nub()], []).kernel.plugin_manager
    builtin = manager.get_plugin(BUILTIN_PLUGIN_NAME)
    assert builtin is not None
    assert manager.caller("iokit_start") == builtin.iokit_start
    tracer = _Tracer()
    manager.register(tracer)
    assert manager.caller("iokit_start") is manager.hook.iokit_start
    assert manager.caller("iokit_probe") == builtin.iokit_probe  # the tracer wraps start only
    manager.unregister(tracer)
    assert manager.caller("iokit_start") == builtin.iokit_start
