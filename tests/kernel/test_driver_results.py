"""Reading what init, start and probe returned: booleans, forgotten returns, scores as SInt32."""

from __future__ import annotations

import pytest
from hostilekit import HostileInt, HostileObject, HostileStr
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.kernel.driver_calls import DriverCalls
from iokit_host.kernel.driver_results import plain_int, read_score, read_success, short_repr
from iokit_host.kernel.watchdog import Watchdog


def _calls() -> DriverCalls:
    return DriverCalls(Watchdog(None))


@pytest.mark.parametrize(("returned", "ok", "reason"), [
    (True, True, ""), (1, True, ""), ("yes", True, ""),
    (False, False, "start returned False"),
    (0, False, "start returned int 0, which is false"),
    ("", False, "start returned str '', which is false"),
])
def test_start_counts_by_truth(returned: object, ok: bool, reason: str) -> None:
    reading = read_success("start", returned, _calls())
    assert (reading.ok, reading.reason, reading.reference) == (ok, reason, None)


def test_a_forgotten_return_is_success_with_a_warning() -> None:
    reading = read_success("init", None, _calls())
    assert reading.ok and reading.reference == "driver-init-returned-none"
    assert reading.severity.value == "warning" and "return True" in reading.hint


def test_a_truth_value_that_exits_or_raises_is_a_failure() -> None:
    class Exits:
        def __bool__(self) -> bool:
            raise SystemExit(1)

    reading = read_success("start", Exits(), _calls())
    assert not reading.ok and reading.reference == "driver-start-bad-result"
    assert reading.reason == "start returned a Exits whose truth value raised SystemExit: 1"


def test_a_score_whose_index_raises_is_refused_not_raised() -> None:
    import numbers

    class Broken:
        def __index__(self) -> int:
            raise RuntimeError("no index")

        def __repr__(self) -> str:
            raise RuntimeError("no repr either")

    numbers.Integral.register(Broken)
    reading = read_score(Broken(), _calls())
    assert not reading.ok and reading.reference == "driver-probe-bad-score"
    assert reading.reason == "reading the score raised RuntimeError: no index"


def test_a_declining_probe_has_no_diagnostic() -> None:
    reading = read_score(None, _calls())
    assert (reading.ok, reading.reason, reading.reference) == (
        False, "probe returned None", None)


def test_short_repr_is_bounded() -> None:
    assert short_repr(10**5000) == "an integer of 16610 bits"
    assert len(short_repr("x" * 10_000)) < 80
    assert len(short_repr(list(range(10_000)))) < 80


def test_short_repr_and_plain_int_run_none_of_the_drivers_code() -> None:
    """Every method of these values raises SystemExit: reading them must call none."""
    assert short_repr(HostileObject()) == "<HostileObject object>"
    assert short_repr(HostileStr("x")) == "<HostileStr object>"
    assert short_repr([1, HostileInt(2)]) == "<list of 2 items>"
    assert short_repr({"key": [HostileObject()]}) == "<dict of 1 items>"
    assert short_repr([10**5000]) == "<list>"  # past the interpreter's digit limit
    assert short_repr({"a": [1, "b"]}) == "{'a': [1, 'b']}"
    assert plain_int(HostileInt(7)) == 7 and type(plain_int(HostileInt(7))) is int
    assert plain_int(True) is None and plain_int(HostileObject()) is None


def test_init_returning_none_still_starts_the_driver_and_names_it() -> None:
    class Initless(IOService):
        def init(self, properties: object) -> bool:  # type: ignore[override]
            super().init(properties)  # type: ignore[arg-type]

    host = make_host([wifi_nub()], [kext("com.test.i", {"p": personality("Initless")})],
                     {"com.test.i": [Initless]}).boot()
    assert [d.iokit_class_name for d in host.drivers_of("pci14e4,4331")] == ["Initless"]
    (warning,) = host.diagnostics
    assert warning.reference == "driver-init-returned-none"
    assert warning.message.startswith("Initless (com.test.i) on pci14e4,4331: init returned None")
