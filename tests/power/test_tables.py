"""Power-state tables: what register_power_driver refuses (each fault named by driver, state
and field), state selection from the parent's flags, and a fuzz over random tables."""

from __future__ import annotations

from typing import Any

from hostilekit import HostileInt, HostileList, HostileTuple
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMAuxPowerOn,
    kIOPMDeviceUsable,
    kIOPMPowerOn,
    kIOPMSleep,
)
from powerkit import THREE, PMDevice, add_device, power_host

from iokit_host.power.tables import POWER_TABLE_INVALID, StateTable, check_table, state_for_domain


def _refused(states: Any) -> list[str]:
    table, problems = check_table(states, "BadDriver")
    assert table is None and problems
    assert all(p.reference == POWER_TABLE_INVALID and p.subject == "BadDriver" for p in problems)
    return [f"{p.key}: {p.message}" for p in problems]


def test_tables_with_fewer_than_two_states_are_refused() -> None:
    assert "has 0 state(s)" in _refused([])[0]
    assert "has 1 state(s)" in _refused([IOPMPowerState()])[0]
    assert "not a list or tuple" in _refused(None)[0]
    assert "not a list or tuple" in _refused("on off")[0]


def test_a_state_that_is_not_an_iopmpowerstate_is_named() -> None:
    (problem,) = _refused([IOPMPowerState(), {"capability_flags": 2}])
    assert problem.startswith("state[1]: ") and "is a dict, not an IOPMPowerState" in problem


def test_impossible_field_values_are_refused_with_the_state_and_field() -> None:
    problems = _refused([IOPMPowerState(capability_flags=-1),
                         IOPMPowerState(output_power_character=1 << 32,
                                        input_power_requirement="on")])  # type: ignore[arg-type]
    keys = [p.split(":")[0] for p in problems]
    assert keys == ["state[0].capability_flags", "state[1].output_power_character",
                    "state[1].input_power_requirement"]
    assert "BadDriver's power-state table" in _refused([IOPMPowerState(version=3)] * 2)[0]
    assert _refused([IOPMPowerState(static_power=True)] * 2)  # type: ignore[arg-type]


def test_version_2_tables_need_state_order_to_be_a_permutation() -> None:
    ordered = [IOPMPowerState(version=2, state_order=1), IOPMPowerState(version=2, state_order=0)]
    table, problems = check_table(ordered, "D")
    assert table is not None and not problems
    assert table.highest == 0 and table.lowest == 1 and table.below(0) == 1
    (problem,) = _refused([IOPMPowerState(version=2, state_order=1)] * 2)
    assert problem.startswith("state[1].state_order") and "repeats" in problem
    (problem,) = _refused([IOPMPowerState(version=2, state_order=0),
                           IOPMPowerState(version=2, state_order=5)])
    assert "outside 0..n-1" in problem


def test_register_power_driver_refuses_a_bad_table_with_a_diagnostic_and_goes_on() -> None:
    host = power_host()
    good = add_device(host, None, "Good")
    bad = PMDevice(name="Bad")
    assert host.kernel.attach(bad, good)
    bad.pm_init()
    good.join_pm_tree(bad)
    assert bad.register_power_driver(bad, [IOPMPowerState()]) == 0xE00002C2
    (diagnostic,) = [d for d in host.diagnostics if d.reference == POWER_TABLE_INVALID]
    assert diagnostic.subject == "PMDevice" and diagnostic.key == "states"
    assert bad.register_power_driver(bad, THREE) == 0  # a good table afterwards is accepted
    host.power.run_until_idle()
    assert bad.get_power_state() == 2
    assert host.sleep().result == "asleep"


def test_the_state_for_a_domain_is_the_highest_whose_input_the_parent_supplies() -> None:
    assert state_for_domain(THREE, kIOPMPowerOn) == 2
    assert state_for_domain(THREE, kIOPMSleep) == 0  # a sleeping root domain's output
    aux = (*THREE, IOPMPowerState(capability_flags=kIOPMDeviceUsable,
                                  input_power_requirement=kIOPMPowerOn | kIOPMAuxPowerOn))
    assert state_for_domain(aux, kIOPMPowerOn) == 2
    assert state_for_domain(aux, kIOPMPowerOn | kIOPMAuxPowerOn) == 3


def test_a_parent_supplies_a_child_from_its_lowest_state_that_can() -> None:
    table = StateTable.of(THREE)
    assert table.supplying(kIOPMPowerOn) == 1
    assert table.supplying(0) == 0
    assert table.supplying(kIOPMAuxPowerOn) == 2  # nobody can: the highest


_FIELD = st.one_of(st.integers(min_value=-2, max_value=2**33), st.sampled_from([0, 2, 0x8002]),
                   st.none(), st.booleans(), st.text(max_size=2))
_STATE = st.one_of(
    st.builds(IOPMPowerState, version=st.integers(-1, 3), capability_flags=_FIELD,
              output_power_character=_FIELD, input_power_requirement=_FIELD,
              state_order=st.integers(-1, 6)),
    st.builds(IOPMPowerState, version=st.just(2), state_order=st.integers(0, 5)),
    st.builds(IOPMPowerState),
    st.integers(), st.none(), st.text(max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.lists(_STATE, max_size=6), st.none(), st.integers(), st.text(max_size=4)))
def test_any_table_is_either_accepted_or_refused_with_our_diagnostics(states: Any) -> None:
    table, problems = check_table(states, "Fuzz")
    assert (table is None) == bool(problems)
    assert all(p.reference == POWER_TABLE_INVALID and p.key for p in problems)
    if table is not None:
        assert sorted(table.rank) == list(range(len(table)))
        assert table.by_rank[table.rank[table.highest]] == table.highest
        for flags in (0, kIOPMPowerOn, kIOPMSleep, 0xFFFFFFFF):
            assert 0 <= table.for_domain(flags) < len(table)


def test_a_table_of_the_drivers_own_list_type_is_read_without_its_methods() -> None:
    """A list or tuple subclass whose every method raises SystemExit is copied by the
    built-in types' own code; a field of the driver's own int type is refused, named by its
    type, without printing it (its repr is the driver's code too)."""
    three = (IOPMPowerState(), IOPMPowerState(capability_flags=kIOPMPowerOn),
             IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable))
    for hostile in (HostileList(three), HostileTuple(three)):
        table, problems = check_table(hostile, "BadDriver")
        assert problems == [] and table is not None and table.states == three
    (problem,) = _refused([IOPMPowerState(), IOPMPowerState(capability_flags=HostileInt(2))])
    assert problem == ("state[1].capability_flags: BadDriver's power-state table: "
                       "state[1].capability_flags is <HostileInt object>; fields are "
                       "integers 0..0xffffffff")
