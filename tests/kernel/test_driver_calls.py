"""Driver calls: what a guarded call turns into a fault and what it lets through, and a faulty
driver in every phase leaving the boot finished with the rightful driver bound."""

from __future__ import annotations

import signal
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostkit import driven_watchdog, kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.host import IOKitHost
from iokit_host.kernel.driver_calls import MAX_NESTING, DriverCalls, DriverFault, describe_error
from iokit_host.kernel.watchdog import DrivenTime, Watchdog

NUB = "pci14e4,4331"


def _calls() -> DriverCalls:
    return DriverCalls(Watchdog(None))


class _Custom(BaseException):
    pass


@pytest.mark.parametrize("error", [
    RuntimeError("boom"), SystemExit(3), GeneratorExit(), _Custom("mine"),
    BaseExceptionGroup("several", [SystemExit(1), ValueError("v")]),
], ids=["exception", "system-exit", "generator-exit", "base-exception", "group"])
def test_any_driver_exception_is_the_calls_fault(error: BaseException) -> None:
    def driver() -> None:
        raise error

    fault = _calls().call(driver)
    assert isinstance(fault, DriverFault) and fault.error is error and not fault.timed_out
    assert fault.reason("start").startswith(f"start raised {type(error).__name__}")


@pytest.mark.parametrize("error", [
    KeyboardInterrupt(), BaseExceptionGroup("ctrl-c inside", [KeyboardInterrupt()]),
], ids=["keyboard-interrupt", "group-with-keyboard-interrupt"])
def test_ctrl_c_is_never_a_drivers_fault(error: BaseException) -> None:
    def driver() -> None:
        raise error

    with pytest.raises(type(error)):
        _calls().call(driver)


def test_a_drivers_own_keyboard_interrupt_is_its_fault_where_sigint_cannot_raise_it() -> None:
    """The running kernel turns SIGINT into a stop request, so a KeyboardInterrupt out of a
    driver is the driver's own raise: it must not stop the kernel every program uses."""
    def driver() -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        fault = _calls().call(driver)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(fault, DriverFault) and isinstance(fault.error, KeyboardInterrupt)


def test_in_an_armed_period_only_a_sigint_that_came_is_ctrl_c() -> None:
    """Under Python's default handler the armed watchdog notes real SIGINTs: a driver raising
    KeyboardInterrupt itself is at fault, a real Ctrl-C during its call still stops the
    command, and the default handler is back afterwards."""
    calls = DriverCalls(Watchdog(60.0))

    def raises() -> None:
        raise KeyboardInterrupt

    def interrupted() -> None:
        signal.raise_signal(signal.SIGINT)

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    try:
        with calls.watchdog.armed():
            assert isinstance(calls.call(raises), DriverFault)
            with pytest.raises(KeyboardInterrupt):
                calls.call(interrupted)
    finally:
        calls.watchdog.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_results_and_arguments_pass_through() -> None:
    assert _calls().call(divmod, 7, 2) == (3, 1)
    assert _calls().call(dict, a=1) == {"a": 1}


def test_an_exception_that_cannot_print_itself_is_still_described() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise SystemExit("not even this")

    assert describe_error(Unprintable()) == "Unprintable (its message could not be printed)"
    assert describe_error(ValueError("x" * 5000)).endswith("...")


def test_an_exceptions_message_and_name_run_no_driver_code_in_the_host() -> None:
    class Sly(str):
        def __len__(self) -> int:
            raise SystemExit("len")  # would end the host, were it asked there

    class Named(type):
        @property
        def __name__(cls) -> str:  # type: ignore[override]
            raise SystemExit("name")

    class Quiet(Exception, metaclass=Named):
        def __str__(self) -> str:
            return Sly("boom")

    def driver() -> None:
        raise Quiet()

    fault = _calls().call(driver)
    assert isinstance(fault, DriverFault)
    assert fault.reason("start") == "start raised Quiet: boom"


def test_a_message_that_never_prints_is_abandoned_at_the_watchdogs_limit() -> None:
    calls = DriverCalls(Watchdog(None))
    clock = DrivenTime()
    calls.watchdog = Watchdog(5.0, clock=clock)

    class Endless(Exception):
        def __str__(self) -> str:
            while clock.now() < 36_000:  # the watchdog's 5 s come first, where it is asked
                clock.advance(0.01)
            return "printed, unguarded, hours later"

    def driver() -> None:
        raise Endless()

    try:
        fault = calls.call(driver)
    finally:
        calls.watchdog.close()
    assert isinstance(fault, DriverFault)
    assert fault.reason("start") == "start raised Endless (its message could not be printed)"


# -- a faulty driver in every phase ----------------------------------------------------------
PHASES = ["import", "init", "probe", "start", "stop", "will_terminate"]
FAULTS = {
    "raise": "raise RuntimeError('faulty driver')",
    "exit": "raise SystemExit(3)",
    "hang": "while True:\n        CLOCK.advance(0.01)",
}
#: What each phase returns normally, and what it returns when its fault is a bad return.
NORMAL = {"init": "return True", "probe": "return score", "start": "return True",
          "stop": "return None", "will_terminate": "return True"}
BAD = {"import": '__all__ = ["Faulty", 3]', "init": "return BadTruth()",
       "probe": 'return "high"', "start": "return BadTruth()", "stop": "return BadTruth()",
       "will_terminate": "return BadTruth()"}
#: The diagnostic each (phase, fault) is reported with (None: the value is ignored).
RAISED = {"import": "kext-import-failed", "init": "driver-init-raised",
          "probe": "driver-probe-raised", "start": "driver-start-raised",
          "stop": "driver-stop-raised", "will_terminate": "driver-will-terminate-raised"}
BAD_REFERENCE = {"import": "kext-import-failed", "init": "driver-init-bad-result",
                 "probe": "driver-probe-bad-score", "start": "driver-start-bad-result",
                 "stop": None, "will_terminate": None}

SOURCE = '''\
import sys

from iokit_sdk import IOService
from iokit_sdk.service import TERMINATE_NEED_WILL_TERMINATE

CLOCK = sys.modules["iokit_test_driven_clock"].CLOCK


class BadTruth:
    def __bool__(self):
        raise ValueError("no truth value")


def fault():
    {fault}


class Faulty(IOService):
    def init(self, properties):
        super().init(properties)
        {init}

    def probe(self, provider, score):
        {probe}

    def start(self, provider):
        {start}

    def stop(self, provider):
        {stop}

    def will_terminate(self, provider, options):
        {will_terminate}

{module}
'''


def _source(phase: str, fault: str) -> str:
    bodies = dict(NORMAL)
    if phase in ("stop", "will_terminate"):  # reached by terminating itself in start
        bodies["start"] = "self.terminate(TERMINATE_NEED_WILL_TERMINATE)\n        return True"
    module = ""
    if phase == "import":
        module = BAD["import"] if fault == "bad" else "fault()"
    else:
        bodies[phase] = BAD[phase] if fault == "bad" else f"fault()\n        {bodies[phase]}"
    return SOURCE.format(fault=FAULTS.get(fault, "pass"), module=module, **bodies)


@pytest.fixture()
def package_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:  # the faulty packages are per test
        if name.startswith("faulty_"):
            del sys.modules[name]


@pytest.mark.parametrize("fault", ["raise", "exit", "bad", "hang"])
@pytest.mark.parametrize("phase", PHASES)
def test_a_faulty_driver_in_any_phase_leaves_the_boot_finished_and_the_vendor_bound(
        phase: str, fault: str, package_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = f"faulty_{phase}_{fault}"
    (package_dir / package).mkdir()
    (package_dir / package / "__init__.py").write_text(_source(phase, fault))
    faulty = kext("com.test.faulty", {"f": personality("Faulty", score=9000)}, package=package)
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    host = make_host([wifi_nub()], [faulty, vendor])
    clock_module = types.ModuleType("iokit_test_driven_clock")
    clock_module.CLOCK = driven_watchdog(host)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "iokit_test_driven_clock", clock_module)

    host.boot()

    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["VendorDriver"]
    summary = host.summary()
    assert summary.drivers_started == 1 and summary.nubs == 3
    expected = ("driver-call-timeout" if fault == "hang" else
                BAD_REFERENCE[phase] if fault == "bad" else RAISED[phase])
    references = [d.reference for d in host.diagnostics]
    if expected is None:
        assert references == []
    else:
        (found,) = [d for d in host.diagnostics if d.reference == expected]
        assert (package if phase == "import" else "Faulty") in found.message
        if fault == "exit":
            assert "SystemExit: 3" in found.message
    assert host.registry.plane_root("IOService").get_busy_state() == 0
    assert host.kernel.driver_calls.watchdog.stack == []


def _reentrant(install_for: str) -> type[IOService]:
    """A driver whose publish handler installs another publish handler, for services of class
    ``install_for`` ("" for all of them), each time it is called: the new handler's delivery
    of the services already published calls it again, inside its own call."""
    calls = []

    class Reentrant(IOService):
        def start(self, provider: IOService) -> bool:
            clock = getattr(sys.modules.get("iokit_test_driven_clock"), "CLOCK", None)

            def handler(service: IOService) -> None:
                calls.append(service)
                if clock is not None:
                    clock.advance(0.01)
                self.add_matching_notification(
                    "publish", {"IOProviderClass": install_for or "IOService"}, handler)
            self.add_matching_notification("publish", {"IOProviderClass": "IOService"},
                                           handler)
            return False  # the vendor drives the nub

    Reentrant.calls = calls  # type: ignore[attr-defined]
    return Reentrant


def _boot_reentrant(cls: type[IOService]) -> IOKitHost:
    reentrant = kext("com.test.reentrant", {"r": personality("Reentrant", score=9000)})
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    host = make_host([wifi_nub(), wifi_nub("1"), wifi_nub("2")], [reentrant, vendor],
                     {"com.test.reentrant": [cls]})
    return host


def _assert_settled(host: IOKitHost) -> None:
    assert len(host.drivers_of(NUB)) == 1  # drivers_of names the first of the three nubs
    assert all(e.get_busy_state() == 0 for _, e in host.registry.walk("IOService")
               if isinstance(e, IOService))
    assert host.kernel.driver_calls.watchdog.stack == []


def test_a_handler_that_re_enters_the_kernel_without_end_is_refused_at_a_depth() -> None:
    """One new call per level (the handler installs one for a single nub): the call
    MAX_NESTING deep is refused and named, every level above unwinds through the host's code
    normally, and the boot ends with the vendor bound and no busy count left up."""
    cls = _reentrant(install_for="IOPlatformExpertDevice")
    host = _boot_reentrant(cls).boot()
    _assert_settled(host)
    nested = [d for d in host.diagnostics if d.reference == "driver-calls-nested"]
    assert nested and all("Reentrant.start.<locals>.handler was refused: driver calls were "
                          f"nested {MAX_NESTING} deep" in d.message for d in nested)
    assert {d.reference for d in host.diagnostics} == {"driver-calls-nested"}
    assert len(cls.calls) < 100 * MAX_NESTING  # type: ignore[attr-defined]


def test_a_discarded_result_is_dropped_inside_the_call_under_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A result the host has no use for is dropped inside the driver call: its ``__del__``
    that hangs is abandoned at the limit, instead of stalling the host unwatched."""
    calls = DriverCalls(Watchdog(None))
    clock = DrivenTime()
    calls.watchdog = Watchdog(5.0, clock=clock)
    stray: list[object] = []  # the interruption of the finalizer, which Python cannot raise
    monkeypatch.setattr(sys, "unraisablehook", stray.append)

    class Lingering:
        def __del__(self) -> None:
            while clock.now() < 36_000:
                clock.advance(0.01)

    try:
        fault = calls.call_discarding(Lingering)
    finally:
        calls.watchdog.close()
    assert isinstance(fault, DriverFault) and fault.timed_out
    assert clock.now() < 36_000
    assert _calls().call_discarding(dict) is None  # a result dropped quietly: no fault
