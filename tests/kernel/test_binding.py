"""Binding: probe and start per category, fallback, failures, lazy loading, stand-ins."""

from __future__ import annotations

import numbers
from pathlib import Path

import pytest
from hostkit import Journal, kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.errors import Diagnostic
from iokit_host.host import BootFailedError
from iokit_host.kernel.workloop import MAX_DRIVER_CHAIN

NUB = "pci14e4,4331"


def _drivers(journal: Journal, fail_start: set[str] = frozenset(),  # type: ignore[assignment]
             ) -> dict[str, type[IOService]]:
    """Driver classes A, B, C that journal probe/start; names in ``fail_start`` fail start."""

    def make(name: str) -> type[IOService]:
        def probe(self: IOService, provider: IOService, score: int) -> int | None:
            journal.add("probe", self, provider)
            return score

        def start(self: IOService, provider: IOService) -> bool:
            journal.add("start", self, provider)
            return name not in fail_start

        return type(name, (IOService,), {"probe": probe, "start": start})

    return {name: make(name) for name in ("A", "B", "C")}


def _scenario_one(fail_start: set[str]) -> tuple[Journal, object]:
    journal = Journal()
    classes = _drivers(journal, fail_start)
    bundle = kext("com.test.cat", {
        "A": personality("A", score=1000),
        "B": personality("B", score=2000),
        "C": personality("C", score=10, IOMatchCategory="X"),
    })
    host = make_host([wifi_nub()], [bundle], {"com.test.cat": classes.values()})
    return journal, host.boot()


def test_appendix_b1_best_starts_and_the_other_is_never_started() -> None:
    journal, host = _scenario_one(set())
    assert journal.methods("probe") == ["B", "A", "C"]  # every candidate probes first
    assert journal.methods("start") == ["B", "C"]
    drivers = {d.iokit_class_name: d for d in host.drivers_of(NUB)}  # type: ignore[attr-defined]
    assert set(drivers) == {"B", "C"}
    assert drivers["C"].get_property("IOMatchCategory") == "X"
    assert drivers["B"].get_property("IOMatchCategory") == "IODefaultMatchCategory"


def test_appendix_b1_start_failure_falls_back_to_the_next_candidate() -> None:
    journal, host = _scenario_one({"B"})
    assert journal.methods("start") == ["B", "A", "C"]
    assert sorted(d.iokit_class_name for d in host.drivers_of(NUB)) == ["A", "C"]  # type: ignore[attr-defined]
    outcome = host.explain(NUB).outcome_of("B")  # type: ignore[attr-defined]
    assert outcome.outcome == "start-failed" and outcome.reason == "start returned False"


class _Scored(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        return 9000


class _Declines(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        return None


def test_probe_may_raise_the_score_or_decline() -> None:
    bundle = kext("com.test.probe", {
        "decl": personality("_Declines", score=50000),
        "low": personality("_Scored", score=1),
        "plain": personality("IOService", score=5000),
    })
    host = make_host([wifi_nub()], [bundle], {"com.test.probe": [_Scored, _Declines]}).boot()
    (driver,) = host.drivers_of(NUB)
    assert type(driver) is _Scored and driver.get_property("IOProbeScore") == 9000
    explained = host.explain(NUB)
    assert explained.outcome_of("_Declines").outcome == "declined"
    assert explained.outcome_of("IOService").outcome == "lost"


class _RaisesInStart(IOService):
    def start(self, provider: IOService) -> bool:
        raise RuntimeError("firmware missing")


class _RaisesInProbe(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        raise ValueError("bad register")


def _raising_bundle() -> object:
    return kext("com.test.raise", {
        "probe": personality("_RaisesInProbe", score=9000),
        "start": personality("_RaisesInStart", score=8000),
        "fallback": personality("Fallback", score=100),  # a codeless stand-in
    })


def _references(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.reference for d in diagnostics]


def test_a_raising_driver_is_reported_and_the_next_candidate_starts() -> None:
    host = make_host([wifi_nub(), wifi_nub(location="1")], [_raising_bundle()],
                     {"com.test.raise": [_RaisesInStart, _RaisesInProbe]}).boot()
    for nub in ("pci14e4,4331@0", "pci14e4,4331@1"):  # the boot went on to the second nub
        (driver,) = host.drivers_of(nub)
        assert driver.iokit_class_name == "Fallback"
    assert _references(host.diagnostics).count("driver-probe-raised") == 2
    assert _references(host.diagnostics).count("driver-start-raised") == 2
    explained = host.explain("pci14e4,4331@0")
    assert explained.outcome_of("_RaisesInStart").reason == \
        "start raised RuntimeError: firmware missing"
    assert explained.outcome_of("_RaisesInProbe").outcome == "probe-failed"


def test_strict_mode_raises_at_the_end_of_boot() -> None:
    host = make_host([wifi_nub()], [_raising_bundle()],
                     {"com.test.raise": [_RaisesInStart, _RaisesInProbe]}, strict=True)
    with pytest.raises(BootFailedError) as failure:
        host.boot()
    assert failure.value.ref == "boot-failed-strict"
    assert host.drivers_of(NUB)[0].iokit_class_name == "Fallback"


def test_unknown_class_of_a_kext_with_code_is_skipped(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "emptykext").mkdir()
    (tmp_path / "emptykext" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    bundle = kext("com.test.empty", {"p": personality("Missing", score=900)},
                  package="emptykext")
    host = make_host([wifi_nub()], [bundle]).boot()
    (unknown,) = [d for d in host.diagnostics if d.reference == "class-unknown"]
    assert unknown.message.startswith("com.test.empty: IOClass 'Missing' of personality 'p' "
                                      "is not defined")  # which kext, not only the class
    assert host.explain(NUB).outcome_of("Missing").outcome == "class-unknown"
    assert host.drivers_of(NUB) == []


def test_an_ioclass_that_is_no_ioservice_is_said_to_be_so(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "entrykext").mkdir()
    (tmp_path / "entrykext" / "__init__.py").write_text(
        "from iokit_sdk.entry import IORegistryEntry\n\n\nclass Plain(IORegistryEntry):\n"
        "    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    bundle = kext("com.test.entry", {"p": personality("Plain", score=900)}, package="entrykext")
    host = make_host([wifi_nub()], [bundle]).boot()
    (unknown,) = [d for d in host.diagnostics if d.reference == "class-unknown"]
    assert unknown.message.endswith("IOClass 'Plain' of personality 'p' is not a subclass of "
                                    "IOService"), unknown.message
    assert host.drivers_of(NUB) == []


def test_codeless_kext_starts_a_stand_in_of_its_class() -> None:
    bundle = kext("com.real.plist", {"p": personality("AppleRealDriver", score=900)})
    host = make_host([wifi_nub()], [bundle]).boot()
    (driver,) = host.drivers_of(NUB)
    assert driver.iokit_class_name == "AppleRealDriver"
    assert driver.get_property("IOKitHostStandIn") is True
    assert driver.get_property("CFBundleIdentifier") == "com.real.plist"


class _Bus(IOService):
    def start(self, provider: IOService) -> bool:
        for unit in ("0", "1"):
            child = IOService({"unit": unit}, name="bus-child", location=unit)
            child.attach(self)
            child.register_service()
        return True


class _ChildDriver(IOService):
    pass


def test_nubs_published_from_start_match_in_turn() -> None:
    bundle = kext("com.test.bus", {
        "bus": personality("_Bus", score=1000),
        "child": personality("_ChildDriver", provider="IOService", score=1,
                             IOPropertyMatch={"unit": "1"}),
    })
    host = make_host([wifi_nub()], [bundle], {"com.test.bus": [_Bus, _ChildDriver]}).boot()
    assert [d.iokit_class_name for d in host.drivers_of("bus-child@1")] == ["_ChildDriver"]
    assert host.drivers_of("bus-child@0") == []
    assert host.find("bus-child@1").get_busy_state() == 0
    assert host.registry.plane_root("IOService").get_busy_state() == 0


class _RaisesEverywhere(IOService):
    def start(self, provider: IOService) -> bool:
        raise RuntimeError("firmware missing")

    def stop(self, provider: IOService) -> None:
        raise RuntimeError("never started")

    def free(self) -> None:
        raise RuntimeError("nothing to free")


def test_cleanup_after_a_raising_start_may_raise_too_and_the_next_candidate_still_starts(
        ) -> None:
    bundle = kext("com.test.messy", {"p": personality("_RaisesEverywhere", score=8000),
                                     "fallback": personality("Fallback", score=100)})
    host = make_host([wifi_nub()], [bundle], {"com.test.messy": [_RaisesEverywhere]}).boot()
    assert host.drivers_of(NUB)[0].iokit_class_name == "Fallback"
    by_reference = {d.reference: d for d in host.diagnostics}
    assert {"driver-start-raised", "driver-stop-raised", "driver-free-raised"} <= set(
        by_reference)
    assert "never started" in by_reference["driver-stop-raised"].message
    assert by_reference["driver-free-raised"].hint == "the candidate was dropped"


# -- what a driver returns, and re-entrancy ---------------------------------------------------
class _NoTruth:
    def __bool__(self) -> bool:
        raise ValueError("no truth value")


def _against_vendor(cls: type[IOService], score: int = 9000) -> object:
    """Boot ``cls`` (score 9000) against a codeless VendorDriver (score 100) on one nub."""
    faulty = kext("com.test.faulty", {"f": personality(cls.__name__, score=score)})
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    return make_host([wifi_nub()], [faulty, vendor], {"com.test.faulty": [cls]}).boot()


def _bound(host: object) -> list[str]:
    return [d.iokit_class_name for d in host.drivers_of(NUB)]  # type: ignore[attr-defined]


class _Number:
    """An integer type of a numeric library (NumPy's): an Integral, not an int."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


numbers.Integral.register(_Number)


@pytest.mark.parametrize("returned", [
    "high", float("nan"), float("inf"), 5000.0, [5000], object(), True, False, 2**31,
    -(2**31) - 1, 10**5000,
], ids=["str", "nan", "inf", "float", "list", "object", "true", "false", "beyond-32-bits",
        "below-32-bits", "huge"])
def test_a_probe_returning_no_integer_score_declines_with_a_diagnostic(returned: object,
                                                                      ) -> None:
    class BadScore(IOService):
        def probe(self, provider: IOService, score: int) -> int | None:
            return returned  # type: ignore[return-value]

    host = _against_vendor(BadScore)
    assert _bound(host) == ["VendorDriver"]
    (found,) = [d for d in host.diagnostics  # type: ignore[attr-defined]
                if d.reference == "driver-probe-bad-score"]
    assert found.message.startswith("BadScore (com.test.faulty) on pci14e4,4331: probe returned")
    assert len(found.message) < 300
    fate = host.explain(NUB).outcome_of("BadScore")  # type: ignore[attr-defined]
    assert fate.outcome == "probe-failed" and fate.reason in found.message


@pytest.mark.parametrize("returned", [_Number(2**31 - 1), -(2**31), 0])
def test_an_integral_score_in_range_is_taken(returned: object) -> None:
    class Integral(IOService):
        def probe(self, provider: IOService, score: int) -> int | None:
            return returned  # type: ignore[return-value]

    host = _against_vendor(Integral, score=-(2**31))
    expected = int(returned)  # type: ignore[call-overload]
    winner = "Integral" if expected > 100 else "VendorDriver"
    assert _bound(host) == [winner]
    if winner == "Integral":
        assert host.drivers_of(NUB)[0].get_property("IOProbeScore") == expected  # type: ignore[attr-defined]


def test_start_returning_none_starts_with_a_warning_naming_the_driver() -> None:
    class Forgetful(IOService):
        def start(self, provider: IOService) -> bool:
            self.set_property("Up", True)  # forgot: return True

    host = _against_vendor(Forgetful)
    assert _bound(host) == ["Forgetful"]
    (warning,) = host.diagnostics  # type: ignore[attr-defined]
    assert (warning.reference, warning.severity.value) == ("driver-start-returned-none", "warning")
    assert "Forgetful (com.test.faulty) on pci14e4,4331: start returned None" in warning.message
    assert host.summary().drivers_started == 1  # type: ignore[attr-defined]


def test_start_returning_a_value_without_truth_is_a_failed_start() -> None:
    class Truthless(IOService):
        def start(self, provider: IOService) -> bool:
            return _NoTruth()  # type: ignore[return-value]

    host = _against_vendor(Truthless)
    assert _bound(host) == ["VendorDriver"]
    (error,) = host.diagnostics  # type: ignore[attr-defined]
    assert error.reference == "driver-start-bad-result"
    assert "truth value raised ValueError: no truth value" in error.message


def test_a_driver_whose_constructor_raises_fails_at_init() -> None:
    class Unbuildable(IOService):
        def __init__(self) -> None:
            raise SystemExit("cannot allocate")

    host = _against_vendor(Unbuildable)
    assert _bound(host) == ["VendorDriver"]
    assert [d.reference for d in host.diagnostics] == ["driver-init-raised"]  # type: ignore[attr-defined]


def test_a_driver_terminating_itself_in_probe_is_not_started_and_the_vendor_is() -> None:
    class Quitter(IOService):
        def probe(self, provider: IOService, score: int) -> int | None:
            self.terminate()
            return score

    host = _against_vendor(Quitter)
    assert _bound(host) == ["VendorDriver"]
    fate = host.explain(NUB).outcome_of("Quitter")  # type: ignore[attr-defined]
    assert (fate.outcome, fate.reason) == ("probe-failed", "terminated during probe")
    assert host.summary().drivers_started == 1  # type: ignore[attr-defined]


def test_a_driver_terminated_during_its_start_is_not_counted_and_the_vendor_starts() -> None:
    freed: list[str] = []

    class Dropout(IOService):
        def start(self, provider: IOService) -> bool:
            child = IOService(name="dropout-child")
            child.attach(self)
            child.register_service()
            self.terminate()
            return True

        def free(self) -> None:
            freed.append("Dropout")

    host = _against_vendor(Dropout)
    assert _bound(host) == ["VendorDriver"]
    assert host.summary().drivers_started == 1  # type: ignore[attr-defined]
    assert [type(d).__name__ for d in host.kernel.binder.started] == [  # type: ignore[attr-defined]
        "VendorDriver"]  # what kextstat counts from
    assert freed == ["Dropout"] and host.find("dropout-child") is None  # type: ignore[attr-defined]
    fate = host.explain(NUB).outcome_of("Dropout")  # type: ignore[attr-defined]
    assert (fate.outcome, fate.reason) == ("start-failed", "terminated during start")


@pytest.mark.parametrize("phase", ["probe", "start"])
def test_a_driver_terminating_its_provider_leaves_the_boot_consistent(phase: str) -> None:
    freed: list[str] = []

    class Wrecker(IOService):
        def probe(self, provider: IOService, score: int) -> int | None:
            if phase == "probe":
                provider.terminate()
            return score

        def start(self, provider: IOService) -> bool:
            provider.terminate()
            return True

    class Bystander(IOService):
        def free(self) -> None:
            freed.append("Bystander")

    bundle = kext("com.test.wreck", {"w": personality("Wrecker", score=9000),
                                     "b": personality("Bystander", score=100)})
    host = make_host([wifi_nub()], [bundle], {"com.test.wreck": [Wrecker, Bystander]}).boot()
    assert host.find(NUB) is None  # terminated, and the boot finished
    # A candidate probed before the provider went away is freed, not leaked; after a
    # probe that terminated it, the others are never allocated.
    assert freed == (["Bystander"] if phase == "start" else [])
    assert host.summary().drivers_started == 0
    assert host.registry.plane_root("IOService").get_busy_state() == 0
    assert [d.reference for d in host.diagnostics] == []


def test_a_driver_matching_its_own_class_makes_a_chain_that_ends() -> None:
    """A driver that registers itself and matches its own class: each instance matched the
    next without end (`iokit boot` never returned). Matching stops below any real depth."""
    class Echo(IOService):
        def start(self, provider: IOService) -> bool:
            self.register_service()
            return True

    bundle = kext("com.test.echo", {"Wifi": personality("Echo"),
                                    "Again": personality("Echo", provider="Echo")})
    host = make_host([wifi_nub()], [bundle], {"com.test.echo": [Echo]}).boot()
    depth = 0
    node = next(s for s in host.kernel.services() if s.iokit_class_name == "IOPCIDevice")
    while (child := next(iter(node.get_child_entries()), None)) is not None:  # one each
        node, depth = child, depth + 1
    assert MAX_DRIVER_CHAIN - 5 <= depth <= MAX_DRIVER_CHAIN + 2
    (warning,) = [d for d in host.diagnostics if d.reference == "matching-too-deep"]
    assert "Echo (started from 'com.test.echo')" in warning.message


def test_a_driver_changing_the_personality_its_init_is_given_changes_no_later_driver() -> None:
    # init gets the personality's copy, containers too: a driver that changed a table in it
    # once changed the catalogue's personality, and so every later driver's properties.
    class Greedy(IOService):
        spoiled = False

        def init(self, properties: dict[str, object]) -> bool:  # type: ignore[override]
            if not Greedy.spoiled:
                Greedy.spoiled = True
                wanted = properties["IOPropertyMatch"]
                assert isinstance(wanted, dict)
                wanted["model"] = "spoiled"
            return super().init(properties)

    bundle = kext("com.test.greedy", {"g": personality(
        "Greedy", score=900, IOPropertyMatch={"model": "mine"})})
    host = make_host([wifi_nub(model="mine"), wifi_nub(location="1", model="mine")],
                     [bundle], {"com.test.greedy": [Greedy]}).boot()
    first, second = (host.drivers_of(path)[0] for path in (NUB, f"{NUB}@1"))
    assert first.get_property("IOPropertyMatch") == {"model": "spoiled"}  # its own copy
    assert second.get_property("IOPropertyMatch") == {"model": "mine"}
    (entry,) = host.catalogue
    assert entry.table["IOPropertyMatch"] == {"model": "mine"}
