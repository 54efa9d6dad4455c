"""System sleep and wake (Appendix B scenario 6, the order and the veto), the root domain's
messages (where IOPMrootDomain sits: test_boot)."""

from __future__ import annotations

from typing import Any

from hostilekit import HostileInt, HostileObject
from iokit_sdk.messages import (
    kIOMessageCanSystemSleep,
    kIOMessageSystemHasPoweredOn,
    kIOMessageSystemWillPowerOn,
    kIOMessageSystemWillSleep,
)
from iokit_sdk.pm import IOPowerStateChangeNotification
from powerkit import PowerJournal, add_device, events, power_host

from iokit_host.power.rootdomain import ON_STATE, SLEEP_STATE


def _tree(journal: PowerJournal):  # type: ignore[no-untyped-def]
    """root domain -> A -> B -> C, and A -> D."""
    host = power_host()
    a = add_device(host, None, "A", journal=journal)
    b = add_device(host, a, "B", journal=journal)
    add_device(host, b, "C", journal=journal)
    add_device(host, a, "D", journal=journal)
    journal.clear()
    return host, a


def test_appendix_b6_sleep_drops_children_before_parents_and_wake_raises_parents_first() -> None:
    journal = PowerJournal()
    host, _ = _tree(journal)
    host.sleep()
    order = [name for name, state in journal.of("set_power_state") if state == 0]
    assert order.index("C") < order.index("B") < order.index("A")
    assert order.index("D") < order.index("A")
    journal.clear()
    host.wake()
    order = [name for name, state in journal.of("set_power_state") if state == 2]
    assert order.index("A") < order.index("B") < order.index("C")
    assert order.index("A") < order.index("D")
    assert host.power.root_domain is not None
    assert host.power.power_state(host.power.root_domain) == ON_STATE


def test_the_root_domain_goes_to_sleep_after_the_whole_tree() -> None:
    journal = PowerJournal()
    host, _ = _tree(journal)
    host.sleep()
    changes = [e for e in events(host, "set-power-state")]
    assert changes[-1].class_name == "IOPMrootDomain" and changes[-1].to_state == SLEEP_STATE
    sleep = events(host, "system-sleep")[0]
    assert (sleep.from_state, sleep.to_state, sleep.detail) == (
        ON_STATE, SLEEP_STATE, "sleep (Software Sleep): asleep")
    assert host.power.asleep


def test_clients_hear_will_sleep_before_the_tree_drops_and_power_on_around_the_wake() -> None:
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()
    host.sleep()
    assert journal.calls[0][:3] == ("message", "A", kIOMessageSystemWillSleep)
    assert journal.calls[0][3] == "IOPMrootDomain"
    journal.clear()
    host.wake()
    assert journal.calls[0][:3] == ("message", "A", kIOMessageSystemWillPowerOn)
    assert journal.calls[-1][:3] == ("message", "A", kIOMessageSystemHasPoweredOn)
    assert len(journal.of("set_power_state")) == 4


def test_appendix_b6_an_idle_sleep_vetoed_through_can_system_sleep_gives_power_on_not_sleep() -> None:
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()

    def veto(message_type: int, argument: Any) -> int:
        if message_type == kIOMessageCanSystemSleep:
            assert isinstance(argument, IOPowerStateChangeNotification)
            assert argument.state_number == SLEEP_STATE
            a.cancel_power_change(argument.power_ref)
        return 0

    a.on_message = veto
    assert host.power.idle_sleep().result == "vetoed"
    assert a.messages == [kIOMessageCanSystemSleep, kIOMessageSystemWillPowerOn,
                          kIOMessageSystemHasPoweredOn]
    assert not journal.of("set_power_state") and not host.power.asleep
    (veto_event,) = events(host, "veto")
    assert "PMDevice cancelled kIOMessageCanSystemSleep" in veto_event.detail
    assert veto_event.path is not None and veto_event.path.endswith("/A")


def test_an_idle_sleep_nobody_vetoes_asks_then_sleeps() -> None:
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()
    assert host.power.idle_sleep().result == "asleep"
    assert a.messages == [kIOMessageCanSystemSleep, kIOMessageSystemWillSleep]
    assert all(state == 0 for _, state in journal.of("set_power_state"))


def test_a_demand_sleep_cannot_be_cancelled() -> None:
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()
    a.on_message = lambda message, argument: a.cancel_power_change(argument.power_ref) \
        if argument is not None else 0
    assert host.sleep().result == "asleep"
    assert kIOMessageCanSystemSleep not in a.messages  # a demand sleep does not ask
    (veto,) = events(host, "veto")
    assert veto.detail.endswith("cancelled kIOMessageSystemWillSleep: ignored, the sleep is "
                                "decided")


def test_a_client_that_asks_for_time_answers_later_and_its_cancel_still_vetoes() -> None:
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()
    refs: list[int] = []

    def later(message_type: int, argument: Any) -> int:
        if argument is not None:
            argument.return_value = 2_000_000  # 2 s, please
            refs.append(argument.power_ref)
        return 0

    a.on_message = later
    idle = host.power.request_transition("idle")
    host.advance(1500)
    assert not idle.done
    a.cancel_power_change(refs[0])
    host.power.run_until_idle()
    assert idle.result == "vetoed" and host.clock.now_ns() == 1_500_000_000


def test_a_client_that_never_answers_is_counted_as_allowing_after_its_time() -> None:
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()

    def silent(message_type: int, argument: Any) -> int:
        if argument is not None:
            argument.return_value = 90_000_000  # more than the 30 s anyone is waited for
        return 0

    a.on_message = silent
    assert host.power.idle_sleep().result == "asleep"
    # 30 s for CanSystemSleep, 30 s for WillSleep
    assert host.clock.now_ns() == 60_000_000_000
    late = events(host, "ack-timeout")
    assert len(late) == 2 and "counted as allowed" in late[0].detail


def test_answers_and_refs_of_a_client_are_read_without_running_its_code() -> None:
    """A client answering a sleep question with an int subclass, and allowing it with a ref of
    its own class, is read by value and by type: none of its methods run in the kernel."""
    journal = PowerJournal()
    host, a = _tree(journal)
    a.register_priority_sleep_wake_interest()

    def odd(message_type: int, argument: Any) -> Any:
        if argument is not None:
            assert a.allow_power_change(HostileObject()) != 0  # answers nothing
            argument.return_value = 1_000_000
        return HostileInt(0)

    a.on_message = odd
    assert host.power.idle_sleep().result == "asleep"
    assert host.clock.now_ns() == 2_000_000_000  # 1 s asked for twice, as with a plain 0
    assert any("allow_power_change(<HostileObject object>) answers no open question"
               in e.detail for e in events(host, "fault"))


def test_wake_when_awake_and_sleep_when_asleep_change_nothing() -> None:
    host = power_host()
    assert host.wake().result == "unchanged"
    host.sleep()
    assert host.sleep().result == "unchanged"
    assert len(events(host, "system-sleep")) == 1
