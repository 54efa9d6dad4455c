"""What a driver's lifecycle method returned, read as IOKit reads it.

IOKit's ``init`` and ``start`` return a C++ ``bool``, and ``probe`` returns the instance (or
NULL to decline) with the score written through an ``SInt32 *score``. A Python method can
return anything, so the kernel reads each value here, and a value the method cannot mean is a
diagnostic naming the driver, never an exception in the kernel:

- ``init``/``start``: True succeeds and False fails (the next candidate tries). None (a
  forgotten ``return True``, the commonest driver bug) counts as success with a warning: the
  driver did its work, and failing it for a missing line would hide the bug behind a device
  that stays unbound. Another value counts by its truth, and one whose truth cannot be taken
  (``__bool__`` raises or hangs) is a failure. In C++ the missing return is undefined behaviour
  that in practice returns whatever the last call left, usually true.
- ``probe``: None declines; a score is an integer (``numbers.Integral``: an int, a NumPy
  integer) within SInt32's range. A bool (``return False`` meant to decline, True is no score),
  a float (NaN and infinity included), a string or any other object, or an integer beyond
  32 bits drops the candidate with ``driver-probe-bad-score``.

Reading a value may run the driver's code (``__bool__``, ``__index__``), so it goes through
:class:`~iokit_host.kernel.driver_calls.DriverCalls` too. The other readings every part of the
kernel makes of what a driver returned run none of the driver's code, so they need no guard:
:func:`plain_int` takes an IOReturn code or a number (an ``int`` subclass's own ``__int__``,
``__eq__`` or ``__and__`` never runs), and :func:`short_repr` prints a value for a diagnostic
(a driver's object is named by its type; its ``__repr__`` may raise, hang or be huge).
"""

from __future__ import annotations

import itertools
import numbers
import operator
import reprlib
from dataclasses import dataclass
from typing import Any

from iokit_host.errors import Severity
from iokit_host.kernel.driver_calls import DriverCalls, DriverFault

__all__ = ["SCORE_MAX", "SCORE_MIN", "Reading", "plain_int", "probe_score", "read_score",
           "read_success", "short_repr"]

#: ``IOProbeScore`` is an SInt32.
SCORE_MIN, SCORE_MAX = -(2**31), 2**31 - 1
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


@dataclass(frozen=True, slots=True)
class Reading:
    """How the kernel reads one returned value.

    :param ok: the call succeeded (``init``, ``start``) or gave a usable score (``probe``).
    :param score: the score, for a ``probe`` that gave one.
    :param reason: why not, for the outcome table.
    :param reference: the diagnostic to report (None: nothing to report), with its
        ``severity``, ``hint`` and the ``error`` reading the value raised.
    """

    ok: bool
    reason: str = ""
    score: int = 0
    reference: str | None = None
    severity: Severity = Severity.ERROR
    hint: str = ""
    error: BaseException | None = None


#: A success to report nothing about: one value, shared (a boot reads thousands).
_SUCCEEDED = Reading(True)


def read_success(call: str, result: Any, calls: DriverCalls) -> Reading:
    """What ``init`` or ``start`` (``call``) returning ``result`` means."""
    if result is True:
        return _SUCCEEDED
    if result is None:
        return Reading(True, f"{call} returned None; counted as success",
                       reference=f"driver-{call}-returned-none", severity=Severity.WARNING,
                       hint=f"end {call} with return True (or return False to let the next "
                            "candidate try)")
    if result is False:
        return Reading(False, f"{call} returned False")
    truth = calls.call(bool, result)
    if isinstance(truth, DriverFault):
        happened = truth.reason("bool()").removeprefix("bool() ")
        return Reading(False, f"{call} returned a {type(result).__name__} whose truth value "
                       f"{happened}", reference=f"driver-{call}-bad-result",
                       hint=f"return True or False from {call}; the candidate was dropped",
                       error=truth.error)
    if truth:
        return _SUCCEEDED
    return Reading(False, f"{call} returned {type(result).__name__} {short_repr(result)}, "
                          "which is false")


def read_score(result: Any, calls: DriverCalls) -> Reading:
    """What ``probe`` returning ``result`` (not a fault) means."""
    if type(result) is int and SCORE_MIN <= result <= SCORE_MAX:
        return Reading(True, score=result)
    if result is None:
        return Reading(False, "probe returned None")
    checked = calls.call(probe_score, result)
    if isinstance(checked, int):
        return Reading(True, score=checked)
    reason = checked.reason("reading the score") if isinstance(checked, DriverFault) \
        else checked
    return Reading(False, reason, reference="driver-probe-bad-score",
                   hint="return the score as an int (IOProbeScore is a signed 32-bit number) "
                        "or None to decline; the candidate was dropped",
                   error=checked.error if isinstance(checked, DriverFault) else None)


def probe_score(value: object) -> int | str:
    """``value`` as an ``IOProbeScore``, or why it is not one (see the module docstring)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return (f"probe returned {type(value).__name__} {short_repr(value)}, "
                "not an integer score or None")
    score = operator.index(value)
    if not SCORE_MIN <= score <= SCORE_MAX:
        return (f"probe returned {short_repr(score)}, outside the signed 32-bit range of "
                "IOProbeScore")
    return score


def plain_int(value: object) -> int | None:
    """``value`` as a plain ``int`` when it is an integer (an ``int``, an IOReturn member, an
    ``OSNumber``, any ``int`` subclass), else None (a bool is not a code). Runs no driver code:
    ``operator.index`` copies an ``int`` subclass's value without calling its methods."""
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return operator.index(value)
    return None


#: Types whose repr is the interpreter's own: anything else is a driver's class.
_PLAIN = frozenset({str, bytes, bytearray, float, bool, type(None), int,
                    list, tuple, dict, set, frozenset})
_CONTAINERS = (list, tuple, dict, set, frozenset)


def short_repr(value: object) -> str:
    """A bounded repr that runs none of the driver's code: a value of the interpreter's own
    types (also in containers) is printed clipped; a driver's object, even inside a
    container, is named by its type, as its ``__repr__`` may raise, hang or be huge."""
    if type(value) is int and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if not _is_plain(value):
        if type(value) in _PLAIN and isinstance(value, _CONTAINERS):
            return f"<{type(value).__name__} of {len(value)} items>"
        return f"<{type(value).__name__} object>"
    try:
        return _REPR.repr(value)
    except (ValueError, RecursionError):  # an int past the digit limit, deep nesting
        return f"<{type(value).__name__}>"


def _is_plain(value: object, budget: int = 64) -> bool:
    """True when ``value`` and what it holds (the first items of each container, the ones
    reprlib shows) are of the interpreter's own types, within ``budget`` items."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) not in _PLAIN:
            return False
        budget -= 1
        if budget < 0:
            return False  # too much to check: named by its type
        if isinstance(item, dict):
            stack.extend(itertools.islice(itertools.chain.from_iterable(item.items()), 12))
        elif isinstance(item, _CONTAINERS):
            stack.extend(itertools.islice(item, 12))
    return True
