"""The rematch limit: a driver that makes its own nub match it again does so a bounded number
of times (IORematchCount's idea and number), then is no longer matched there, said once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.service import TERMINATE_WITH_REMATCH

from iokit_host.kernel.outcomes import Outcome
from iokit_host.kernel.rematch_limit import MAX_REMATCHES

NUB = "pci14e4,4331"
BUNDLE = "com.test.loop"

Act = Callable[[IOService, IOService], object]


def _terminate_with_rematch(driver: IOService, provider: IOService) -> object:
    driver.terminate(TERMINATE_WITH_REMATCH)
    return True


def _terminate_and_register(driver: IOService, provider: IOService) -> object:
    driver.terminate()
    provider.register_service()
    return True


def _register_and_fail(driver: IOService, provider: IOService) -> object:
    provider.register_service()
    return False


#: Each way a driver's own probe or start makes its nub match it again, without end before.
LOOPS: dict[str, tuple[str, Act]] = {
    "start-terminates-with-rematch": ("start", _terminate_with_rematch),
    "start-terminates-and-registers": ("start", _terminate_and_register),
    "start-registers-and-fails": ("start", _register_and_fail),
    "probe-terminates-with-rematch": ("probe", _terminate_with_rematch),
    "probe-registers-and-declines": ("probe", lambda d, p: _register_and_fail(d, p) and None),
}


#: Where a test's loop gives up by itself, so that without the limit it fails, not hangs.
GIVE_UP = 3 * MAX_REMATCHES


def _looping(where: str, act: Act, tries: list[str]) -> type[IOService]:
    def looping(call: str) -> bool:
        tries.append(call)
        return call == where and tries.count(call) < GIVE_UP

    class Looper(IOService):
        def probe(self, provider: IOService, score: int) -> int | None:
            return act(self, provider) if looping("probe") else score  # type: ignore[return-value]

        def start(self, provider: IOService) -> bool:
            return bool(act(self, provider)) if looping("start") else True

    return Looper


@pytest.mark.parametrize("shape", list(LOOPS))
def test_a_driver_rematching_itself_is_tried_a_bounded_number_of_times(shape: str) -> None:
    """`iokit boot` never ended (~105,000 starts in 20 s): it ends, with one diagnostic
    naming the kext, the driver and the nub, and explain says why it is not matched."""
    where, act = LOOPS[shape]
    tries: list[str] = []
    bundle = kext(BUNDLE, {"Loop": personality("Looper", score=100)})
    host = make_host([wifi_nub()], [bundle], {BUNDLE: [_looping(where, act, tries)]}).boot()
    assert tries.count(where) == 1 + MAX_REMATCHES  # the first match and its rematches
    (loop,) = [d for d in host.diagnostics if d.reference == "driver-rematch-loop"]
    assert loop.subject == BUNDLE and loop.key == "IOKitPersonalities.Loop"
    assert loop.message.startswith(f"Looper ({BUNDLE}) on {NUB}: matched again "
                                   f"{MAX_REMATCHES} times")
    assert loop.hint is not None and "kIOServiceTerminateWithRematch" in loop.hint
    assert host.drivers_of(NUB) == []
    outcome = host.explain(NUB).outcome_of("Looper")
    assert outcome is not None and outcome.outcome == Outcome.NO_MATCH
    assert "rematch loop" in outcome.reason
    assert host.registry.plane_root("IOService").get_busy_state() == 0


def test_a_loop_armed_from_outside_ends_and_the_kernel_goes_on() -> None:
    """The running kernel's case: a client terminates the driver with rematch and every start
    after that terminates itself with rematch; the work loop ran for ever (every client hung)."""
    armed: list[bool] = []

    class Armed(IOService):
        def start(self, provider: IOService) -> bool:
            if armed and len(armed) < GIVE_UP:
                armed.append(True)
                self.terminate(TERMINATE_WITH_REMATCH)
            return True

    bundle = kext(BUNDLE, {"Loop": personality("Armed", score=100)})
    host = make_host([wifi_nub()], [bundle], {BUNDLE: [Armed]}).boot()
    (first,) = host.drivers_of(NUB)
    armed.append(True)
    first.terminate(TERMINATE_WITH_REMATCH)
    assert host.kernel.run_until_quiet() <= MAX_REMATCHES + 2
    assert [d.reference for d in host.diagnostics] == ["driver-rematch-loop"]
    assert host.drivers_of(NUB) == []


def test_legitimate_rematches_still_match_the_driver_again() -> None:
    """A driver terminated by an outside cause, again and again, is matched again each time."""
    class Steady(IOService):
        pass

    bundle = kext(BUNDLE, {"Steady": personality("Steady", score=100)})
    host = make_host([wifi_nub()], [bundle], {BUNDLE: [Steady]}).boot()
    drivers: list[IOService] = []  # kept, so no two share an id
    for _ in range(50):
        (driver,) = host.drivers_of(NUB)
        drivers.append(driver)
        driver.terminate(TERMINATE_WITH_REMATCH)
        host.kernel.run_until_quiet()
    assert len({id(d) for d in drivers}) == 50 and len(host.drivers_of(NUB)) == 1
    assert host.diagnostics == []


def test_other_drivers_still_match_the_nub_and_a_new_nub_starts_afresh() -> None:
    tries: list[str] = []
    looper = _looping("start", _terminate_with_rematch, tries)

    class Other(IOService):
        pass

    bundle = kext(BUNDLE, {"Loop": personality("Looper", score=100),
                           "Other": personality("Other", IOMatchCategory="other")})
    host = make_host([wifi_nub()], [bundle], {BUNDLE: [looper, Other]}).boot()
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["Other"]
    host.unplug(NUB)
    host.plug(wifi_nub(), "TestMac")
    host.kernel.run_until_quiet()
    assert tries.count("start") == 2 * (1 + MAX_REMATCHES)  # the new nub's own count
    assert [d.reference for d in host.diagnostics] == ["driver-rematch-loop"] * 2


def test_each_personality_is_counted_on_its_own_from_a_nubs_first_try() -> None:
    """The counts a nub gets on its second try (of any personality) carry its first."""
    from iokit_host.errors import Diagnostic
    from iokit_host.kernel.rematch_limit import RematchLimit
    from iokit_host.matching.catalogue import IOCatalogue

    reported: list[Diagnostic] = []

    class _Reporter:
        def report(self, diagnostic: Diagnostic) -> None:
            reported.append(diagnostic)

    first, second = IOCatalogue().add_personalities(
        [("A", personality("A")), ("B", personality("B", IOMatchCategory="b"))],
        bundle=kext(BUNDLE, {}))
    limit, nub, other = RematchLimit(_Reporter(), limit=2), IOService(), IOService()
    assert [limit.admit(nub, first) for _ in range(3)] == [None] * 3  # a try, 2 rematches
    assert limit.admit(nub, second) is None and limit.admit(other, first) is None
    refusals = [limit.admit(nub, first) for _ in range(2)]
    assert all(r is not None and "rematch loop" in r for r in refusals)
    assert [d.reference for d in reported] == ["driver-rematch-loop"]
    assert [limit.admit(nub, second) for _ in range(2)] == [None, None]
    assert limit.admit(nub, second) is not None and len(reported) == 2
    limit.forget(nub)
    assert limit.admit(nub, first) is None
