"""Driver answers on the host clock (Appendix B scenario 6, first part) and the faults a sleep
survives: late, missing, doubled and misdirected acknowledgements, raises, odd return values."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from hostilekit import HostileInt, HostileObject
from iokit_sdk import IOReturn, IOService, hookimpl
from powerkit import PMDevice, PowerJournal, add_device, chain, events, power_host

from iokit_host.power.acks import TARDY_CHANGE, TARDY_SET, ack_window_ns
from iokit_host.power.rootdomain import Transition


def test_the_ack_window_is_at_least_ten_seconds_in_100ms_ticks() -> None:
    assert ack_window_ns(5000) == 10_100_000_000  # 10 s floor, 101 ticks
    assert ack_window_ns(10_000_000) == 10_100_000_000
    assert ack_window_ns(25_000_000) == 25_100_000_000
    assert ack_window_ns(25_050_000) == 25_100_000_000


def test_appendix_b6_a_5000us_answer_gets_the_10s_window_and_is_flagged_tardy_at_10_1s() -> None:
    host = power_host()
    slow = add_device(host, None, "Slow")
    slow.answer = 5000  # "I will acknowledge within 5 ms", and never does
    sleep = host.power.request_transition("sleep", "test")
    host.advance(10_000)
    assert not slow.has_property(TARDY_SET) and not sleep.done  # 5 ms were not the limit
    host.advance(99)
    assert not slow.has_property(TARDY_SET)
    host.advance(1)
    assert slow.get_property(TARDY_SET) is True
    host.power.run_until_idle()
    assert sleep.result == "asleep" and slow.get_power_state() == 0  # the transition proceeded
    (timeout,) = events(host, "ack-timeout")
    assert timeout.t_ms == 10_100 and "PMDevice::set_power_state(0) timed out after 10100 ms" \
        in timeout.detail and timeout.path is not None and timeout.path.endswith("/Slow")
    (call,) = [e for e in events(host, "set-power-state") if e.to_state == 0]
    assert call.duration_ms == 10_100 and "timed out" in call.detail


def test_host_sleep_returns_with_the_sleep_done_and_the_clock_at_the_timeout() -> None:
    host = power_host()
    add_device(host, None, "Slow").answer = 5000
    assert host.sleep().result == "asleep"
    assert host.clock.now_ns() == 10_100_000_000
    (sleep,) = events(host, "system-sleep")
    assert sleep.duration_ms == 10_100


def test_an_ack_during_the_call_counts_and_the_return_value_is_ignored() -> None:
    host = power_host()
    device = add_device(host, None, "Quick")

    def ack_inside(ordinal: int) -> int:
        device.acknowledge_set_power_state()
        return 30_000_000  # ignored: the ack came first

    device.answer = ack_inside
    host.sleep()
    assert host.clock.now_ns() == 0 and not device.has_property(TARDY_SET)
    assert not events(host, "ack-timeout") and not events(host, "fault")


def test_a_late_ack_within_the_window_ends_the_wait_and_is_logged() -> None:
    host = power_host()
    device = add_device(host, None, "Later")
    device.answer = 5_000_000
    sleep = host.power.request_transition("sleep")
    host.advance(3000)
    assert device.acknowledge_set_power_state() == 0
    host.power.run_until_idle()
    assert sleep.result == "asleep" and host.clock.now_ns() == 3_000_000_000
    (ack,) = events(host, "acknowledged")
    assert ack.t_ms == 3000 and "acknowledged after 3000 ms" in ack.detail
    assert not device.has_property(TARDY_SET)


def test_a_second_ack_and_an_ack_with_nothing_pending_are_logged_and_ignored() -> None:
    host = power_host()
    device = add_device(host, None, "Twice")

    def ack_twice(ordinal: int) -> int:
        device.acknowledge_set_power_state()
        device.acknowledge_set_power_state()
        return 0

    device.answer = ack_twice
    assert host.sleep().result == "asleep"
    assert device.acknowledge_set_power_state() != 0  # long after: nothing pending
    faults = events(host, "fault")
    assert len(faults) == 2 and all("no set_power_state pending" in f.detail for f in faults)
    assert host.wake().result == "awake" and device.get_power_state() == 2


def test_an_ack_for_another_state_is_ignored_and_the_real_one_still_awaited() -> None:
    host = power_host()
    device = add_device(host, None, "Other")
    device.answer = 5000
    sleep = host.power.request_transition("sleep")
    assert device.acknowledge_set_power_state(2) != 0  # set_power_state(0) is pending
    host.power.run_until_idle()
    assert sleep.result == "asleep" and device.get_property(TARDY_SET) is True
    (fault,) = events(host, "fault")
    assert "for state 2 while set_power_state(0) is pending" in fault.detail
    # The driver finally acks, after the timeout: a late, stale ack, logged and ignored.
    assert device.acknowledge_set_power_state() != 0
    assert len(events(host, "fault")) == 2


def test_a_driver_that_raises_in_set_power_state_does_not_stop_the_sleep() -> None:
    host = power_host()
    journal = PowerJournal()
    good = add_device(host, None, "Good", journal=journal)
    bad = add_device(host, None, "Bad", journal=journal)

    def explode(ordinal: int) -> int:
        raise RuntimeError("firmware gone")

    bad.answer = explode
    assert host.sleep().result == "asleep"
    assert good.get_power_state() == 0 and bad.get_power_state() == 0
    (fault,) = events(host, "fault")
    assert "PMDevice::set_power_state(0) raised RuntimeError: firmware gone" in fault.detail
    assert fault.path is not None and fault.path.endswith("/Bad")
    (raised,) = [d for d in host.diagnostics if d.reference == "driver-power-call-raised"]
    assert raised.message.startswith("PMDevice 'Bad' on ")  # which device, not only its class
    assert host.wake().result == "awake" and good.get_power_state() == 2


class _Bystander:
    """A host plugin that answers no power call: set_power_state goes through the hook."""

    @hookimpl(tryfirst=True)
    def iokit_set_power_state(self, service: IOService, ordinal: int,
                              device: IOService) -> Any:
        return None


@pytest.mark.parametrize("plugins", [[], [_Bystander()]], ids=["builtin-alone", "hooked"])
def test_a_driver_whose_set_power_state_replaces_a_signal_handler_is_named(
        plugins: list[object]) -> None:
    """The kernel calls ``set_power_state`` through the built-in plugin's implementation
    when it is alone, else through the hook's execution directly (pluggy's argument checks
    skipped): a system sleep makes one call per node. Either way the warning names the
    device whose call it was, not ``a driver call``."""
    host = power_host(plugins=plugins)
    add_device(host, None, "Good")
    bad = add_device(host, None, "Bad")
    before = signal.getsignal(signal.SIGPIPE)

    def default_sigpipe(ordinal: int) -> int:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return 0

    bad.answer = default_sigpipe
    try:
        assert host.sleep().result == "asleep"
        assert signal.getsignal(signal.SIGPIPE) is before
    finally:
        signal.signal(signal.SIGPIPE, before)
    (warning,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert warning.message.startswith("driver code called for PMDevice 'Bad' on ")
    assert "replaced the handler of SIGPIPE" in warning.message


def test_an_answer_that_is_not_a_number_is_taken_as_an_ack() -> None:
    host = power_host()
    odd = add_device(host, None, "Odd")
    odd.answer = lambda ordinal: "done"  # type: ignore[assignment,return-value]
    assert host.sleep().result == "asleep" and host.clock.now_ns() == 0
    (fault,) = events(host, "fault")
    assert "returned 'done', not a 32-bit IOReturn" in fault.detail


def test_answers_are_read_without_running_the_drivers_code() -> None:
    """An int subclass (an IOReturn member too) is its value; another object is a fault named
    by its type: its ``__repr__``, ``__eq__`` or ``__bool__`` never runs in the kernel."""
    host = power_host()
    enum = add_device(host, None, "Enum")
    enum.answer = lambda ordinal: IOReturn.SUCCESS
    counted = add_device(host, None, "Counted")
    counted.answer = lambda ordinal: HostileInt(5000)  # "within 5 ms", never acknowledged
    odd = add_device(host, None, "Odd")
    odd.answer = lambda ordinal: HostileObject()
    sleep = host.power.request_transition("sleep", "test")
    host.advance(10_100)
    assert sleep.done and counted.has_property(TARDY_SET) and not enum.has_property(TARDY_SET)
    (fault,) = events(host, "fault")
    assert fault.path is not None and fault.path.endswith("/Odd")
    assert "returned <HostileObject object>, not a 32-bit IOReturn" in fault.detail
    assert host.wake().result == "awake"


def test_a_change_asked_for_inside_set_power_state_waits_for_the_change_in_progress() -> None:
    host = power_host()
    journal = PowerJournal()
    device = add_device(host, None, "Eager", journal=journal)

    def ask_again(ordinal: int) -> int:
        if ordinal == 0:
            device.change_power_state_to(2)  # inside its own set_power_state(0)
        return 0

    device.answer = ask_again
    journal.clear()
    assert host.sleep().result == "asleep"
    assert device.get_power_state() == 0  # the system is asleep: the parent allows nothing more
    (request,) = events(host, "request")
    assert "change_power_state_to(2) from inside set_power_state(0)" in request.detail
    host.wake()
    assert device.get_power_state() == 2
    assert journal.of("set_power_state") == [("Eager", 0), ("Eager", 2)]


def test_an_interested_driver_that_never_acks_is_flagged_and_the_change_goes_on() -> None:
    host = power_host()
    device = add_device(host, None, "Watched")

    class Listener(IOService):
        def power_state_will_change_to(self, capabilities: int, ordinal: int,
                                       device: IOService) -> int:
            return 1  # 1 µs, then silence

    listener = Listener(name="Listener")
    assert host.kernel.attach(listener, device)
    device.register_interested_driver(listener)
    assert host.sleep().result == "asleep"
    assert device.get_property(TARDY_CHANGE) is True
    (timeout,) = events(host, "ack-timeout")
    assert "Listener::power_state_will_change_to(0) timed out after 10100 ms" in timeout.detail


def test_the_sleep_wake_watchdog_names_what_it_waits_for_after_35_s() -> None:
    host = power_host()
    devices = chain(host, 4)
    for device in devices:
        device.answer = 5000  # four late drivers, one after the other: 40.4 s
    assert host.sleep().result == "asleep"
    (watchdog,) = events(host, "watchdog")
    assert watchdog.t_ms == 35_000
    assert "sleep not finished after 35 s" in watchdog.detail
    assert "PMDevice::set_power_state(0) on D0" in watchdog.detail  # the 4th, the root-most
    assert host.clock.now_ns() == 4 * 10_100_000_000


def test_a_host_plugin_can_inject_a_slow_driver_through_the_hook() -> None:
    class Slowdown:
        @hookimpl(tryfirst=True)
        def iokit_set_power_state(self, service: IOService, ordinal: int,
                                  device: IOService) -> Any:
            return 5000 if device.get_name() == "Victim" else None

    host = power_host(plugins=[Slowdown()])
    victim = add_device(host, None, "Victim")
    bystander = add_device(host, None, "Bystander")
    host.sleep()
    assert victim.get_property(TARDY_SET) is True and not bystander.has_property(TARDY_SET)


def test_pm_device_defaults_ack_at_once() -> None:
    host = power_host()
    device = add_device(host, None, "Plain", cls=PMDevice)
    host.sleep()
    assert host.clock.now_ns() == 0 and device.get_power_state() == 0


@pytest.mark.parametrize(("answer", "fault"), [
    (10 ** 30, True), (10 ** 100_000, True), (1 << 32, True),
    ((1 << 31) + 5, False),  # a negative IOReturn to IOServicePM: done, as there
], ids=["10**30", "10**100000", "2**32", "2**31+5"])
def test_an_answer_no_ioreturn_holds_is_an_ack_not_a_wait_of_ages(answer: int,
                                                                   fault: bool) -> None:
    """10**30 µs moved the host clock by 10**24 s; 10**100000 failed the whole request."""
    host = power_host()
    odd = add_device(host, None, "Odd")
    odd.answer = lambda ordinal: answer  # type: ignore[assignment,return-value]
    assert host.sleep().result == "asleep" and host.clock.now_ns() == 0
    found = events(host, "fault")
    assert len(found) == fault
    if fault:
        assert "not a 32-bit IOReturn; treated as acknowledged" in found[0].detail


def test_a_sleep_asked_for_inside_set_power_state_is_queued_not_run_inside_it() -> None:
    """What a program's ``IOPMSleepSystem`` asks (the root domain's ``request_transition``),
    asked while a driver's ``set_power_state(0)`` runs in a sleep: queued, as IOKit queues
    a sleep request, never run inside the callback. It finds the system asleep already
    (unchanged); the wake brings every device back, and nothing stalls."""
    host = power_host()
    devices = [add_device(host, None, f"Dev{index}") for index in range(3)]
    asked: list[Transition] = []

    def ask_for_sleep(ordinal: int) -> int:
        if ordinal == 0 and not asked:
            asked.append(host.power.request_transition("sleep", "from set_power_state"))
        return 0

    devices[0].answer = ask_for_sleep
    assert host.sleep().result == "asleep"
    assert asked[0].done and asked[0].result == "unchanged"
    assert host.wake().result == "awake"
    assert [device.get_power_state() for device in devices] == [2, 2, 2]
    assert not [d for d in host.diagnostics if d.reference == "power-stalled"]
