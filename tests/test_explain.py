"""explain(): one row per personality, each column with one meaning on every row."""

from __future__ import annotations

from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.values import OSNumber

from iokit_host.machine.model import NubSpec

NUB = "pci14e4,4331"


class _Declines(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        return None


class _Bids(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        return score + 7


def _usb_device() -> NubSpec:
    return NubSpec("IOUSBHostDevice", name="Keyboard", location="1",
                   properties={"idVendor": OSNumber(1452, 16), "idProduct": OSNumber(591, 16)})


def test_initial_is_the_score_probe_is_offered_for_every_fate() -> None:
    """On a USB device the family's ladder sets the score probe starts from (90000 for vendor
    and product, plus IOProbeScore); a declined candidate shows it as the winner does."""
    bundle = kext("com.test.usb", {
        "declines": personality("_Declines", "IOUSBHostDevice", score=50,
                                idVendor=1452, idProduct=591),
        "bids": personality("_Bids", "IOUSBHostDevice", score=10, idVendor=1452, idProduct=591),
    })
    host = make_host([_usb_device()], [bundle], {"com.test.usb": [_Declines, _Bids]}).boot()
    explained = host.explain("Keyboard")
    declined, started = explained.outcome_of("_Declines"), explained.outcome_of("_Bids")
    assert declined is not None and started is not None
    assert (declined.initial_score, declined.score, declined.outcome) == (90050, None, "declined")
    assert (started.initial_score, started.score, started.outcome) == (90010, 90017, "started")


def test_score_is_a_bid_only_for_a_candidate_that_was_probed() -> None:
    bundle = kext("com.test.cat", {
        "first": personality("First", score=500),
        "late": personality("Late", score=100),  # its category was taken before the pass ran
    })
    host = make_host([wifi_nub()], [bundle]).boot()
    host.catalogue.add_bundle(kext("com.test.more", {"more": personality("More", score=900)}))
    rows = {c.io_class: (c.initial_score, c.score, c.outcome)
            for c in host.explain(NUB).candidates}
    assert rows["First"] == (500, 500, "started")
    assert rows["Late"] == (100, 100, "lost")
    assert rows["More"] == (900, None, "category-taken")  # never probed: no bid


def test_candidates_behind_a_parked_start_are_waiting_not_unrun() -> None:
    bundle = kext("com.test.park", {
        "needs": personality("Needs", score=300, IOResourceMatch="IOFoo"),
        "next": personality("Next", score=200),
    })
    host = make_host([wifi_nub()], [bundle]).boot()
    queued = host.explain(NUB).outcome_of("Next")
    assert queued is not None and queued.outcome == "waiting"
    assert queued.reason == "queued behind com.test.park Needs, which waits for 'IOFoo'"
    host.publish_resource("IOFoo")
    after = host.explain(NUB).outcome_of("Next")
    assert after is not None and after.outcome == "lost"


def test_a_driver_terminated_after_it_started_reads_terminated() -> None:
    bundle = kext("com.test.gone", {"only": personality("Only", score=300)})
    host = make_host([wifi_nub()], [bundle]).boot()
    host.unplug(host.drivers_of(NUB)[0])
    fate = host.explain(NUB).outcome_of("Only")
    assert fate is not None
    assert (fate.outcome, fate.reason) == ("terminated",
                                           "started with score 300; since terminated")


class _EngineClient(IOService):
    pass


def test_explain_says_where_the_ancestry_that_let_a_personality_match_came_from() -> None:
    # An AppleHDAEngineOutput is an IOAudioEngine only by facts IORegistryExplorer recorded
    # on real Macs; explain names them, link by link.
    engine = NubSpec("AppleHDAEngineOutput", name="Engine", location="1B,0,1,2")
    bundle = kext("com.test.audio", {"client": personality("_EngineClient", "IOAudioEngine")})
    host = make_host([engine], [bundle], {"com.test.audio": [_EngineClient]}).boot()
    explained = host.explain("Engine")
    started = explained.outcome_of("_EngineClient")
    assert started is not None and started.outcome == "started"
    (line,) = [a for a in explained.ancestry if " is an IOAudioEngine " in a]
    assert line.startswith("AppleHDAEngineOutput is an IOAudioEngine (AppleHDAEngineOutput : "
                           "AppleHDAEngine, archive chain, ")
    assert "AppleHDAEngine : IOAudioEngine, archive chain, " in line
    assert explained.to_json()["ancestry"] == list(explained.ancestry)
    from iokit_host.cli.explain import render_table

    table = render_table(explained).splitlines()
    assert f"  ancestry: {line}" in table[1:1 + len(explained.ancestry)]
