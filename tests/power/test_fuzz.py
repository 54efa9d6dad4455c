"""Fuzz: random tables (valid and not), random trees, and random sequences of requests,
acknowledgements, driver misbehaviour, clock advances, sleeps and wakes. The host never raises,
reports only its own diagnostics, and ends with every started change finished and every
service in the state its desires and its parents allow."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk import IOService
from iokit_sdk.power import IOPMPowerState, kIOPMDeviceUsable, kIOPMPowerOn
from powerkit import THREE, PMDevice, power_host

from iokit_host.host import IOKitHost

_EXPECTED = {"power-table-invalid", "driver-power-call-raised", "power-tree-cycle"}
_DEVICES = 5
_INDEX = st.integers(0, _DEVICES - 1)
_ORDINAL = st.integers(-1, 5)
_FLAGS = st.sampled_from([0, kIOPMPowerOn, kIOPMPowerOn | kIOPMDeviceUsable, 0x20, 1])


@st.composite
def _tables(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return THREE
    count = draw(st.integers(0, 4))
    version = draw(st.sampled_from([1, 1, 2, 3]))
    orders = draw(st.permutations(range(count))) if draw(st.booleans()) else \
        draw(st.lists(st.integers(-1, 4), min_size=count, max_size=count))
    return [IOPMPowerState(version=version, capability_flags=draw(_FLAGS),
                           output_power_character=draw(_FLAGS),
                           input_power_requirement=draw(st.sampled_from([0, kIOPMPowerOn])),
                           state_order=orders[i]) for i in range(count)]


_ANSWERS = st.sampled_from([0, -1, 5000, 20_000_000, "odd", None, "raise", "ack-inside",
                            "ack-twice", "request-inside"])
_OPS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["change", "priv", "tickle", "usable", "clamp"]), _INDEX, _ORDINAL),
    st.tuples(st.just("idle-period"), _INDEX, st.integers(-1, 20)),
    st.tuples(st.just("answer"), _INDEX, _ANSWERS),
    st.tuples(st.just("ack"), _INDEX, st.one_of(st.none(), st.integers(0, 3))),
    st.tuples(st.just("ack-change"), _INDEX, _INDEX),
    st.tuples(st.just("interest"), _INDEX, _INDEX),
    st.tuples(st.just("sleep-interest"), _INDEX, st.sampled_from(["allow", "cancel", "later",
                                                                  "silent", "raise"])),
    st.tuples(st.just("advance"), st.integers(0, 40_000), st.none()),
    st.tuples(st.just("system"), st.sampled_from(["sleep", "idle", "wake"]), st.none()),
    st.tuples(st.just("system"), st.sampled_from(["wake", "sleep"]), st.none()),
    st.tuples(st.just("idle-device"), _INDEX, st.integers(1, 5)),
    st.tuples(st.just("advance"), st.integers(1_000, 12_000), st.none()),
    st.tuples(st.just("assert"), st.sampled_from(["PreventUserIdleSystemSleep",
                                                  "PreventUserIdleDisplaySleep"]), st.none()),
    st.tuples(st.just("release"), st.integers(0, 2), st.none()),
    st.tuples(st.just("terminate"), _INDEX, st.none()),
), max_size=25)


class _Fuzzed(PMDevice):
    mode: Any = 0
    reply: str = "allow"

    def power_state_will_change_to(self, capabilities: int, ordinal: int,
                                   device: IOService) -> int:
        return 5000 if self.mode == 5000 else 0


def _answer(device: _Fuzzed, ordinal: int) -> Any:
    mode = device.mode
    if mode == "raise":
        raise RuntimeError("boom")
    if mode in ("ack-inside", "ack-twice"):
        device.acknowledge_set_power_state()
        if mode == "ack-twice":
            device.acknowledge_set_power_state()
        return 0
    if mode == "request-inside":
        device.change_power_state_to(ordinal + 1)
        return 0
    return mode


def _message(device: _Fuzzed, message_type: int, argument: Any) -> int:
    if argument is None:
        return 0
    if device.reply == "raise":
        raise ValueError("no")
    if device.reply == "cancel":
        device.cancel_power_change(argument.power_ref)
    elif device.reply == "later":
        argument.return_value = 1_000_000
    elif device.reply == "silent":
        argument.return_value = 60_000_000
    return 0


def _build(host: IOKitHost, parents: list[int | None], tables: list[Any]) -> list[_Fuzzed]:
    devices: list[_Fuzzed] = []
    root = host.registry.plane_root("IOService")
    for index, (parent, table) in enumerate(zip(parents, tables, strict=True)):
        device = _Fuzzed(name=f"F{index}")
        device.answer = lambda ordinal, device=device: _answer(device, ordinal)
        device.on_message = lambda kind, arg, device=device: _message(device, kind, arg)
        provider = devices[parent] if parent is not None else root
        assert isinstance(provider, IOService) and host.kernel.attach(device, provider)
        device.pm_init()
        provider.join_pm_tree(device)
        if device.register_power_driver(device, table) == 0:
            device.change_power_state_to(len(table) - 1)
        devices.append(device)
    return devices


def _apply(host: IOKitHost, devices: list[_Fuzzed], op: tuple[str, Any, Any],
           assertions: list[int]) -> None:
    kind, a, b = op
    device = devices[a] if isinstance(a, int) and kind not in ("advance", "release") else None
    if kind == "change" and device:
        device.change_power_state_to(b)
    elif kind == "priv" and device:
        device.change_power_state_to_priv(b)
    elif kind == "tickle" and device:
        device.activity_tickle(1, b)
    elif kind == "usable" and device:
        device.make_usable()
    elif kind == "clamp" and device:
        device.temporary_power_clamp_on()
    elif kind == "idle-period" and device:
        device.set_idle_timer_period(b)
    elif kind == "idle-device" and device:  # an idle timer over a device desire to step down
        device.change_power_state_to(0)
        device.make_usable()
        device.set_idle_timer_period(b)
    elif kind == "answer" and device:
        device.mode = b
    elif kind == "ack" and device:
        device.acknowledge_set_power_state(b)
    elif kind == "ack-change" and device:
        device.acknowledge_power_change(devices[b])
    elif kind == "interest" and device:
        device.register_interested_driver(devices[b])
    elif kind == "sleep-interest" and device:
        device.reply = b
        device.register_priority_sleep_wake_interest()
    elif kind == "advance":
        host.advance(a)
    elif kind == "system":
        host.power.request_transition(a, "fuzz")
    elif kind == "assert":
        assertions.append(host.power.create_assertion(a, "fuzz").assertion_id)
    elif kind == "release" and assertions:
        host.power.release_assertion(assertions[a % len(assertions)])
    elif kind == "terminate" and device and not device.is_inactive():
        host.unplug(device)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parents=st.lists(st.one_of(st.none(), st.integers(0, _DEVICES)), min_size=_DEVICES,
                        max_size=_DEVICES),
       tables=st.lists(_tables(), min_size=_DEVICES, max_size=_DEVICES), ops=_OPS)
def test_any_sequence_of_power_events_ends_consistent(parents: list[int | None],
                                                      tables: list[Any],
                                                      ops: list[tuple[str, Any, Any]]) -> None:
    host = power_host()
    tree = [p if p is not None and p < i else None for i, p in enumerate(parents)]
    devices = _build(host, tree, tables)
    assertions: list[int] = []
    for op in ops:
        _apply(host, devices, op, assertions)
    host.power.run_until_idle()
    power = host.power
    unexpected = [d for d in host.diagnostics if d.reference not in _EXPECTED]
    assert not unexpected, unexpected
    assert power.log.unfinished() == 0 and not power.busy
    for pm in power.managed():
        if pm.table is None:
            continue
        assert 0 <= pm.current < len(pm.table)
        if pm.parents and not pm.initial_pending and pm.settled:
            assert pm.current == pm.target(), (pm.service, pm.current, pm.target())
    for event in power.log.events():
        assert event.kind in {"system-sleep", "system-wake", "set-power-state", "will-change",
                              "did-change", "acknowledged", "ack-timeout", "veto", "idle-drop",
                              "assertion", "message", "watchdog", "fault", "request"}
