"""The plugin fence: a host plugin that raises in any hook is reported and set aside, and the
call it broke, the boot and the rightful driver go on as if it were not there."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pluggy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk import IOService, hookimpl, hookspecs

from iokit_host.host import IOKitHost
from iokit_host.kernel.plugin_fence import PluginFence
from iokit_host.kernel.plugins import BUILTIN_PLUGIN_NAME
from iokit_host.kext.bundle import KextBundle
from iokit_host.testing import assert_bound, kext_bundles

SAMPLES = Path(__file__).resolve().parents[2] / "sample_drivers"
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("iokit_"))


@cache
def _wifi_kexts() -> tuple[KextBundle, ...]:
    """The sample Wi-Fi family, vendor driver (AppleBCM43xx) and a third-party rival."""
    folders = [next((SAMPLES / f"iokit-sample-{name}").glob("*/Info.plist")).parent
               for name in ("wlan-family", "bcm43xx", "thirdparty-wifi")]
    return tuple(kext_bundles(folders))


def _boot(*plugins: object) -> IOKitHost:
    return IOKitHost(kexts=list(_wifi_kexts()), plugins=plugins).boot()


def _raised(host: IOKitHost) -> dict[str, str]:
    """Plugin name -> ``hook: message`` of each ``host-plugin-raised`` diagnostic."""
    return {d.subject or "": f"{d.key}: {d.message}" for d in host.diagnostics
            if d.reference == "host-plugin-raised"}


class _RefusesAttach:
    """Answers every attach first and raises: today's plugins take the binding down."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl(tryfirst=True)
    def iokit_attach(self, service: IOService, provider: IOService) -> bool:
        self.calls += 1
        raise RuntimeError("attach policy crashed")


def test_a_plugin_raising_in_attach_is_named_set_aside_and_the_driver_still_binds() -> None:
    plugin = _RefusesAttach()
    host = _boot(plugin)
    assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)
    ((name, message),) = _raised(host).items()
    assert message.startswith("iokit_attach: host plugin")
    assert "_RefusesAttach object) raised RuntimeError: attach policy crashed;" in message
    assert host.kernel.plugin_manager.get_plugin(name) is None
    assert plugin.calls == 1  # set aside: no later call reaches it


class _Exits:
    @hookimpl
    def iokit_register_service(self, service: IOService, options: int) -> None:
        raise SystemExit(3)


class _PublishFails:
    @hookimpl
    def iokit_publish(self, service: IOService) -> None:
        raise KeyError("observer state")


def test_system_exit_and_a_notification_hook_are_fenced_like_any_exception() -> None:
    host = _boot(_Exits(), _PublishFails())
    assert_bound(host, "AppleBCM43xx", nub="ARPT")
    exits, publish = sorted(_raised(host).values(), key=lambda text: "_Exits" not in text)
    assert exits.startswith("iokit_register_service: ")
    assert "_Exits object) raised SystemExit: 3;" in exits
    assert publish.startswith("iokit_publish: ")
    assert "_PublishFails object) raised KeyError: 'observer state'" in publish
    # Unregistered, so a quiet notification is skipped again (the kernel re-checks).
    assert host.kernel.plugin_manager.only_builtin("iokit_publish")


class _Interrupted:
    @hookimpl
    def iokit_publish(self, service: IOService) -> None:
        raise KeyboardInterrupt


def test_ctrl_c_in_a_plugin_still_stops_the_host() -> None:
    with pytest.raises(KeyboardInterrupt):
        _boot(_Interrupted())


class _Wrappers:
    """Wrappers breaking in each way pluggy allows a wrapper to break."""

    def __init__(self, where: str) -> None:
        self.where = where

    @hookimpl(wrapper=True)
    def iokit_start(self, service: IOService, provider: IOService) -> Generator[None, Any, Any]:
        if self.where == "before":
            raise ValueError("setup")
        if self.where == "no-yield":
            return False
        yield
        if self.where == "twice":
            yield
        raise ValueError("teardown")


class _OldStyle:
    @hookimpl(hookwrapper=True)
    def iokit_start(self, service: IOService, provider: IOService) -> Generator[None, Any, None]:
        outcome = yield
        outcome.force_result(False)  # changes the outcome, then breaks: the change is undone
        raise ValueError("old-style teardown")


@pytest.mark.parametrize(("plugin", "says"), [
    (_Wrappers("before"), "raised ValueError: setup before its yield"),
    (_Wrappers("after"), "raised ValueError: teardown after its yield"),
    (_Wrappers("no-yield"), "is a wrapper that did not yield"),
    (_Wrappers("twice"), "is a wrapper that yielded twice"),
    (_OldStyle(), "raised ValueError: old-style teardown after its yield")])
def test_a_breaking_wrapper_leaves_the_calls_own_result(plugin: object, says: str) -> None:
    host = _boot(plugin)
    assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)
    (message,) = _raised(host).values()
    assert message.startswith("iokit_start: ") and says in message


class _Failing(IOService):
    def start(self, provider: IOService) -> bool:
        raise OSError("firmware missing")


class _Watcher:
    """A well-behaved wrapper: the driver's exception passes through it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def iokit_start(self, service: IOService, provider: IOService) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except OSError as error:
            self.seen.append(str(error))
            raise


def test_a_drivers_exception_through_a_wrapper_stays_the_drivers() -> None:
    from hostkit import kext, make_host, personality, wifi_nub

    watcher = _Watcher()
    bundle = kext("com.test.fail", {"f": personality("_Failing", score=900)})
    host = make_host([wifi_nub()], [bundle], {"com.test.fail": [_Failing]},
                     plugins=[watcher]).boot()
    assert watcher.seen == ["firmware missing"]
    assert not _raised(host)
    outcome = host.explain("pci14e4,4331").outcome_of("_Failing")
    assert outcome is not None and outcome.outcome == "start-failed"
    assert host.kernel.plugin_manager.is_registered(watcher)


def test_a_hook_call_monitor_sees_every_call_as_if_the_plugin_were_not_there() -> None:
    def monitored(*plugins: object) -> list[tuple[str, object]]:
        host = IOKitHost(kexts=list(_wifi_kexts()), plugins=plugins)
        calls: list[tuple[str, object]] = []
        host.kernel.plugin_manager.add_hookcall_monitoring(
            lambda name, impls, kwargs: None,
            lambda outcome, name, impls, kwargs: calls.append((name, outcome.get_result())))
        host.boot()
        return [(name, result) for name, result in calls
                if not isinstance(result, list)]  # notification hooks: lists, compared below

    clean = monitored()
    assert monitored(_RefusesAttach(), _OldStyle()) == clean
    assert ("iokit_attach", True) in clean and ("iokit_start", True) in clean


# -- the property: any plugins raising anywhere -------------------------------------------
_ERRORS = (RuntimeError, ValueError, KeyError, SystemExit, ZeroDivisionError, MemoryError)
_STYLES = ("call", "tryfirst", "trylast", "before", "after", "old-before", "old-after",
           "no-yield", "twice")


def _faulty(hook: str, style: str, error: type[BaseException], at: int) -> object:
    """A plugin implementing ``hook`` in ``style`` that breaks on its ``at``-th call."""
    state = {"calls": 0, "broke": False}

    def due() -> bool:
        state["calls"] += 1
        state["broke"] = state["broke"] or state["calls"] == at
        return state["calls"] == at

    def fail() -> None:
        if due():
            raise error(f"injected into {hook}")

    def call(self: object, service: IOService) -> None:
        fail()

    def before(self: object, service: IOService) -> Generator[None, Any, Any]:
        fail()
        return (yield)

    def after(self: object, service: IOService) -> Generator[None, Any, Any]:
        result = yield
        fail()
        return result

    def old_after(self: object, service: IOService) -> Generator[None, Any, None]:
        outcome = yield
        if due():
            outcome.force_result(False)
            raise error(f"injected into {hook}")

    def no_yield(self: object, service: IOService) -> Generator[None, Any, Any]:
        if due():
            return None
        return (yield)

    def twice(self: object, service: IOService) -> Generator[None, Any, Any]:
        result = yield
        if due():
            yield
        return result

    styles: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "call": (call, {}), "tryfirst": (call, {"tryfirst": True}),
        "trylast": (call, {"trylast": True}), "before": (before, {"wrapper": True}),
        "after": (after, {"wrapper": True}), "old-before": (before, {"hookwrapper": True}),
        "old-after": (old_after, {"hookwrapper": True}),
        "no-yield": (no_yield, {"wrapper": True}), "twice": (twice, {"wrapper": True}),
    }
    impl, options = styles[style]
    marked = hookimpl(specname=hook, **options)(impl)
    cls = type(f"Faulty_{hook}_{style.replace('-', '_')}", (),
               {"faulty": marked, "broke": property(lambda self: state["broke"])})
    return cls()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(HOOKS), st.sampled_from(_STYLES),
                          st.sampled_from(_ERRORS), st.integers(1, 40)), max_size=5))
def test_any_plugins_raising_anywhere_never_stop_the_boot_or_the_vendor_driver(
        faults: list[tuple[str, str, type[BaseException], int]]) -> None:
    plugins: list[Any] = [_faulty(*fault) for fault in faults]
    host = IOKitHost(kexts=list(_wifi_kexts()), plugins=plugins).boot()
    assert host.machine is not None
    spec = next(nub for _, nub in host.machine.root.walk() if nub.name == "ARPT")
    arpt = host.find("ARPT")
    bridge = arpt.get_provider() if arpt is not None else None
    assert bridge is not None
    host.unplug(host.plug(replace(spec, name="ARPT2", location="1"), bridge))  # terminations
    assert str(host.summary())
    assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)
    manager = host.kernel.plugin_manager
    named = _raised(host)
    for plugin in plugins:
        name = str(id(plugin))
        assert (name in named) == plugin.broke, (type(plugin).__name__, named)
        assert manager.is_registered(plugin) != plugin.broke
        if plugin.broke:
            assert type(plugin).__name__ in named[name]


# -- the loop itself: without faults it is pluggy's ---------------------------------------
def _well_behaved(kind: str, value: int) -> object:
    """Plugins that change the outcome in every way pluggy lets them, without breaking."""

    def answer(self: object, service: object) -> int | None:
        return value if kind == "answer" else None

    def add(self: object, service: object) -> Generator[None, Any, Any]:
        result = yield
        return result + value if isinstance(result, int) else result

    def swallow(self: object, service: object) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except ValueError:
            return value

    def force(self: object, service: object) -> Generator[None, Any, None]:
        outcome = yield
        if outcome.exception is None:
            outcome.force_result(value)

    kinds: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "answer": (answer, {}), "none": (answer, {"tryfirst": True}),
        "add": (add, {"wrapper": True}), "swallow": (swallow, {"wrapper": True}),
        "force": (force, {"hookwrapper": True}),
    }
    impl, options = kinds[kind]
    return type(kind, (), {"impl": hookimpl(specname="iokit_probe", **options)(impl),
                           "all": hookimpl(specname="iokit_publish", **options)(impl)})()


class _Protected:
    def __init__(self, fails: bool) -> None:
        self.fails = fails

    @hookimpl(trylast=True)
    def iokit_probe(self, service: object) -> int:
        if self.fails:
            raise ValueError("the driver's own failure")
        return 7

    @hookimpl(trylast=True)
    def iokit_publish(self, service: object) -> int:
        return self.iokit_probe(service)


def _outcome(call: Callable[[], object]) -> object:
    try:
        return ("result", call())
    except ValueError as error:
        return ("raised", str(error))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("answer", "none", "add", "swallow", "force")),
                          st.integers(-3, 3)), max_size=5), st.booleans())
def test_without_a_fault_the_fenced_call_is_pluggys(kinds: list[tuple[str, int]],
                                                     fails: bool) -> None:
    plugins = [_well_behaved(kind, value) for kind, value in kinds]
    managers = []
    for with_fence in (False, True):
        manager = pluggy.PluginManager("iokit")
        manager.add_hookspecs(hookspecs)
        manager.register(_Protected(fails), name=BUILTIN_PLUGIN_NAME)
        for plugin in plugins:
            manager.register(plugin)
        if with_fence:
            fence = PluginFence(BUILTIN_PLUGIN_NAME, lambda breaches: pytest.fail(str(breaches)))
            manager._inner_hookexec = fence.multicall
        managers.append(manager)
    bare, fenced = (m.hook for m in managers)
    assert _outcome(lambda: fenced.iokit_probe(service=None, provider=None, score=0)) == \
        _outcome(lambda: bare.iokit_probe(service=None, provider=None, score=0))
    assert _outcome(lambda: fenced.iokit_publish(service=None)) == \
        _outcome(lambda: bare.iokit_publish(service=None))
