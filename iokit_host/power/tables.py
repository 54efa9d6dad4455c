"""Power-state tables: validating a driver's ``IOPMPowerState`` array and choosing states from it.

IOKit checks a table in ``registerPowerDriver`` (IOServicePM.cpp): at least two states, a
version of 1 or 2, and for version 2 a ``stateOrder`` that is a permutation of 0..n-1; the
fields are 32- or 64-bit unsigned integers in C. Here a table comes from Python code, so every
field is also checked to be a non-negative integer within 32 bits; each fault is a
``power-table-invalid`` diagnostic naming the driver, the state and the field.

A :class:`StateTable` is a validated table plus its order: states are compared by rank
(``StateOrder``: the index for version 1, ``state_order`` for version 2). The state selection
of ``getPowerStateForDomainFlags`` and the parent's answer to a child's power request live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from iokit_sdk.power import IOPMPowerState, kIOPMDeviceUsable

from iokit_host.errors import Diagnostic
from iokit_host.kernel.driver_results import short_repr

__all__ = ["POWER_TABLE_INVALID", "StateTable", "check_table", "state_for_domain"]

POWER_TABLE_INVALID = "power-table-invalid"
_FIELDS = tuple(f.name for f in fields(IOPMPowerState))
_MAX_FIELD = 0xFFFF_FFFF
#: How many distinct parent flags a table remembers its state for (:meth:`StateTable.for_domain`).
_MAX_REMEMBERED = 64
#: More states than any real driver has; a bigger table is refused rather than walked.
MAX_STATES = 1024
_HINT = ("a power-state table is a sequence of at least two IOPMPowerState, lowest power "
         "first, every field a non-negative integer below 2**32; version 2 tables number "
         "their states 0..n-1 in state_order")


@dataclass(frozen=True, slots=True)
class StateTable:
    """A registered table: the states, each state's rank, and the states in rank order."""

    states: tuple[IOPMPowerState, ...]
    rank: tuple[int, ...]
    by_rank: tuple[int, ...]
    #: ``(ordinal, input requirement)`` from the highest-ordered state down.
    inputs: tuple[tuple[int, int], ...] = ()
    #: :meth:`for_domain`'s answers by parent flags: a system sleep or wake asks it of every
    #: node with flags that just changed, and a table sees only a few distinct flags.
    _for_flags: dict[int, int] = field(default_factory=dict, compare=False, hash=False,
                                       repr=False)

    @classmethod
    def of(cls, states: Sequence[IOPMPowerState]) -> StateTable:
        """A table from states :func:`check_table` accepted."""
        ordered = states[0].version == 2
        rank = tuple(s.state_order for s in states) if ordered else tuple(range(len(states)))
        by_rank = [0] * len(states)
        for ordinal, position in enumerate(rank):
            by_rank[position] = ordinal
        inputs = tuple((o, states[o].input_power_requirement) for o in reversed(by_rank))
        return cls(tuple(states), rank, tuple(by_rank), inputs)

    def __len__(self) -> int:
        return len(self.states)

    @property
    def highest(self) -> int:
        """The highest-ordered state (``kIOPMPowerStateMax`` clamps here)."""
        return self.by_rank[-1]

    @property
    def lowest(self) -> int:
        return self.by_rank[0]

    def clamp(self, ordinal: int) -> int:
        """A requested ordinal as IOKit takes it: one past the table means the highest."""
        return ordinal if 0 <= ordinal < len(self.states) else self.highest

    def higher(self, a: int, b: int) -> int:
        return a if self.rank[a] >= self.rank[b] else b

    def lower(self, a: int, b: int) -> int:
        return a if self.rank[a] <= self.rank[b] else b

    def below(self, ordinal: int) -> int:
        """The state one step below ``ordinal`` in state order (itself when it is the lowest)."""
        position = self.rank[ordinal]
        return self.by_rank[position - 1] if position else ordinal

    def for_domain(self, parent_flags: int) -> int:
        """:func:`state_for_domain` on this table, in rank order."""
        known = self._for_flags.get(parent_flags)
        if known is not None:
            return known
        found = self.lowest
        for ordinal, need in self.inputs:
            if need & parent_flags == need:
                found = ordinal
                break
        if len(self._for_flags) < _MAX_REMEMBERED:  # flags are a driver's: bound the memo
            self._for_flags[parent_flags] = found
        return found

    def supplying(self, need: int) -> int:
        """The lowest-ordered state whose output covers ``need``: what this service must be in
        for a child needing ``need`` (``requestPowerDomainState``); the highest when none."""
        for ordinal in self.by_rank:
            if self.states[ordinal].output_power_character & need == need:
                return ordinal
        return self.highest

    def usable(self) -> int:
        """The lowest-ordered state with ``kIOPMDeviceUsable`` (``fDeviceUsablePowerState``)."""
        for ordinal in self.by_rank:
            if self.states[ordinal].capability_flags & kIOPMDeviceUsable:
                return ordinal
        return self.highest


def state_for_domain(states: Sequence[IOPMPowerState], parent_flags: int) -> int:
    """The highest state whose input requirement the parent's output flags cover
    (``getPowerStateForDomainFlags``); 0 when none does. ``states`` must be valid."""
    return StateTable.of(states).for_domain(parent_flags)


def check_table(states: object, driver: str) -> tuple[StateTable | None, list[Diagnostic]]:
    """Validate ``states`` registered by ``driver``: the table, or None and why not."""
    if not isinstance(states, (list, tuple)):
        return None, [_invalid(driver, "states", f"is a {type(states).__name__}, not a "
                                                 "list or tuple of IOPMPowerState")]
    # Copied by the built-in types' own code: a subclass's __len__, __iter__ or __getitem__
    # is the driver's and may raise or lie.
    states = list.copy(states) if isinstance(states, list) else tuple.__getitem__(
        states, slice(None))
    if len(states) < 2:
        return None, [_invalid(driver, "states", f"has {len(states)} state(s); a table needs "
                                                 "at least two")]
    if len(states) > MAX_STATES:
        return None, [_invalid(driver, "states", f"has {len(states)} states; at most "
                                                 f"{MAX_STATES} are accepted")]
    problems: list[Diagnostic] = []
    for index, state in enumerate(states):
        problems.extend(_check_state(driver, index, state))
    if problems:
        return None, problems
    problems.extend(_check_order(driver, states))
    return (None, problems) if problems else (StateTable.of(states), [])


def _check_state(driver: str, index: int, state: object) -> list[Diagnostic]:
    if not isinstance(state, IOPMPowerState):
        return [_invalid(driver, f"state[{index}]",
                         f"is a {type(state).__name__}, not an IOPMPowerState")]
    problems = []
    for name in _FIELDS:
        value = getattr(state, name)
        if type(value) is not int or not 0 <= value <= _MAX_FIELD:
            problems.append(_invalid(driver, f"state[{index}].{name}",
                                     f"is {_show(value)}; fields are integers 0..0xffffffff"))
    if not problems and state.version not in (1, 2):
        problems.append(_invalid(driver, f"state[{index}].version",
                                 f"is {state.version}; IOKit knows versions 1 and 2"))
    return problems


def _check_order(driver: str, states: Sequence[IOPMPowerState]) -> list[Diagnostic]:
    if states[0].version != 2:
        return []
    orders = [s.state_order for s in states]
    if sorted(orders) == list(range(len(states))):
        return []
    seen: set[int] = set()
    for index, order in enumerate(orders):
        if order >= len(states) or order in seen:
            why = "repeats an earlier state's" if order in seen else "is outside 0..n-1 for"
            return [_invalid(driver, f"state[{index}].state_order",
                             f"is {order}, which {why} order ({len(states)} states)")]
        seen.add(order)
    return []  # not reached: n distinct values in 0..n-1 are a permutation


def _show(value: object) -> str:
    text = short_repr(value)  # runs none of the driver's code
    return text if len(text) <= 40 else text[:37] + "..."


def _invalid(driver: str, key: str, reason: str) -> Diagnostic:
    return Diagnostic(POWER_TABLE_INVALID, f"{driver}'s power-state table: {key} {reason}",
                      key=key, subject=driver, hint=_HINT)
