"""A driver object's finalizer that the cyclic garbage collector runs in the host's own code,
between driver calls, is watched as a driver call: one that hangs is abandoned at the limit,
named in a warning, and the boot goes on."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest
from hostkit import driven_watchdog, kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.kernel.watchdog_clock import DrivenTime

NUB = "pci14e4,4331"
_CLOCK: list[DrivenTime] = []  # the test's driven time, which the finalizer advances


class Lingering:
    """Cyclic garbage whose ``__del__`` never returns (on driven time: for 10 hours)."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        clock = _CLOCK[0]
        while clock.now() < 36_000:
            clock.advance(0.01)


class Litterer(IOService):
    def start(self, provider: IOService | None) -> bool:
        Lingering()  # unreachable at once: a cycle, left for the collector
        young = gc.get_threshold()[0]
        self.filler: list[Any] = []
        while gc.get_count()[0] < young - 1:  # the next allocations set a collection off:
            self.filler.append([])               # the host's, after this call returned
        return True


@pytest.fixture()
def collector_on() -> Any:
    enabled = gc.isenabled()
    gc.enable()
    yield
    if not enabled:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_a_finalizer_that_hangs_in_the_hosts_code_is_abandoned_and_named(
        capfd: pytest.CaptureFixture[str]) -> None:
    """It ran outside any driver call, where no watchdog looked: the boot hung."""
    host = make_host([wifi_nub()], [kext("com.test.litter", {"l": personality("Litterer")})],
                     {"com.test.litter": [Litterer]})
    clock = driven_watchdog(host)
    _CLOCK[:] = [clock]
    gc.collect()
    host.boot()
    gc.collect()
    assert clock.now() < 36_000  # abandoned, not waited out
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["Litterer"]
    (found,) = [str(d) for d in host.diagnostics if d.reference == "driver-call-timeout"]
    assert found.startswith("warning[driver-call-timeout]: ")
    assert ("a finalizer the garbage collector ran outside any driver call (" in found)
    assert ("test_collection_watch.Lingering.__del__) did not return within 5 s and was "
            "abandoned; the collection went on") in found
    assert host.kernel.driver_calls.watchdog.stack == []
    assert "Traceback" not in capfd.readouterr().err


def _litter() -> None:
    Litterer().start(None)


@pytest.mark.usefixtures("collector_on")
def test_a_finalizer_that_hangs_between_a_running_kernels_requests_is_abandoned() -> None:
    """A running kernel serves its clients outside the work loop (no armed period): there the
    finalizer is interrupted by an asynchronous exception, at its next bytecode."""
    host = make_host([wifi_nub()], [])
    clock = driven_watchdog(host)
    _CLOCK[:] = [clock]
    gc.collect()
    with host.kernel.checking():
        host.kernel.run_checked(_litter, "while serving a client's call request")
        junk = [[] for _ in range(gc.get_threshold()[0])]  # the host's next allocations
    del junk
    gc.collect()
    assert clock.now() < 36_000
    (found,) = [d.message for d in host.diagnostics if d.reference == "driver-call-timeout"]
    assert found.startswith("a finalizer the garbage collector ran outside any driver call (")


def _interrupted_callback(*_: Any) -> None:
    raise KeyboardInterrupt  # as the SIGINT handler does, wherever the signal finds it


def test_ctrl_c_landing_in_the_collection_callback_is_raised_again_not_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Python drops what a ``gc.callbacks`` entry raises (unraisable): the user's Ctrl-C
    landing there let a boot go on to exit 0. It is raised again in the main thread."""
    from iokit_host.kernel import collection_watch
    from iokit_host.kernel.watchdog import Watchdog

    gc.collect()  # earlier tests' garbage: its finalizers would drop the interrupt in turn
    monkeypatch.setattr(collection_watch, "_begin", _interrupted_callback)
    others = gc.callbacks[:]  # (a test tool's callback, run after this one, would drop it)
    gc.callbacks[:] = [collection_watch._on_collection]  # the list the collector holds
    try:
        with collection_watch.collections_watched(Watchdog(5.0), lambda diagnostic: None), \
                pytest.raises(KeyboardInterrupt):
            gc.collect()  # the callback runs, is interrupted, and has it said again
            threading.Event().wait(30)  # until the main thread's next safe point raises it
    finally:
        gc.callbacks[:] = others


def test_only_a_ctrl_c_the_host_did_not_raise_itself_is_redelivered() -> None:
    """A driver's own ``raise KeyboardInterrupt`` in ``__del__`` (no SIGINT came, no watched
    collection) stays the stray exception it was; one reported from the host's callback is
    the user's."""
    from types import SimpleNamespace

    from iokit_host.kernel.collection_watch import _on_collection, ctrl_c_redelivered

    def finalizer() -> None:
        """A driver's ``__del__``."""

    assert not ctrl_c_redelivered(SimpleNamespace(exc_value=KeyboardInterrupt(),
                                                  object=finalizer))
    assert not ctrl_c_redelivered(SimpleNamespace(exc_value=ValueError(),
                                                  object=_on_collection))
    with pytest.raises(KeyboardInterrupt):
        assert ctrl_c_redelivered(SimpleNamespace(exc_value=KeyboardInterrupt(),
                                                  object=_on_collection))
        threading.Event().wait(30)
