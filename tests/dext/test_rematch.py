"""Rematching after a dext crash (IOKIT_SEMANTICS §8.5): the provider is given the crashed
service's personality (``IORematchPersonality``) and a count (``IORematchCount``); the next pass
lets only that personality match while the count is within ``dextrelaunch``, then excludes
it."""

from __future__ import annotations

import os
import plistlib
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostkit import kext

from iokit_host.dext.rematch import (
    DEXT_MATCH_COUNT,
    REMATCH_COUNT,
    REMATCH_PERSONALITY,
    rematch_candidates,
)
from iokit_host.host import IOKitHost
from iokit_host.testing.kexts import kext_bundles

from .conftest import DEXT, EXIT_WAIT_S, camera, camera_driver, children, dexts

#: An in-kernel driver for the same camera, bidding less than the dext (a codeless stand-in).
FALLBACK = kext("com.example.fallback", {"Fallback": {
    "IOClass": "FallbackCamera", "IOProviderClass": "IOUSBHostDevice", "idVendor": 1452,
    "idProduct": 34057, "IOProbeScore": 100}})


@pytest.fixture
def host_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """``make(*extra_bundles, **env)``: the test dext bidding 5000, plus ``extra_bundles``."""
    before = set(children())
    hosts: list[IOKitHost] = []
    dext = tmp_path / "iokit_test_dext"
    shutil.copytree(DEXT, dext)
    info = plistlib.loads((dext / "Info.plist").read_bytes())
    info["IOKitPersonalities"]["Camera"]["IOProbeScore"] = 5000
    (dext / "Info.plist").write_bytes(plistlib.dumps(info))
    monkeypatch.setenv("IOKIT_TEST_DEXT_MODE", "")

    def make(*extra: Any, **env: str) -> IOKitHost:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        host = IOKitHost(None, kexts=[*kext_bundles([dext]), *extra])
        hosts.append(host)
        return host.boot()

    yield make
    for host in hosts:
        dexts(host).shutdown()
    assert not set(children()) - before


def _crash(host: IOKitHost) -> None:
    pid = dexts(host).rows()[0].pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert dexts(host).poll(EXIT_WAIT_S)
    host.kernel.run_until_quiet()


def _bound(host: IOKitHost) -> str | None:
    live = [c for c in camera(host).get_clients() if not c.is_inactive()
            and c.get_property("IOMatchCategory") == "IODefaultMatchCategory"]
    return live[0].get_name() if live else None


def test_the_count_starts_at_zero_and_counts_each_later_crash(host_with):
    host = host_with(FALLBACK)
    assert _bound(host) == "CameraDriver" and not camera(host).has_property(REMATCH_COUNT)
    _crash(host)
    nub = camera(host)
    assert nub.get_property(REMATCH_COUNT) == 0
    assert not nub.has_property(REMATCH_PERSONALITY)  # the rematch pass consumed it
    assert nub.get_property(DEXT_MATCH_COUNT) == 1
    _crash(host)
    assert camera(host).get_property(REMATCH_COUNT) == 1
    assert camera_driver(host) is not None


def test_within_the_limit_only_the_crashed_personality_may_match(host_with):
    # A better bidder that arrived while the dext ran: the rematch still relaunches the dext.
    rival = kext("com.example.rival", {"Rival": {
        "IOClass": "RivalCamera", "IOProviderClass": "IOUSBHostDevice", "idVendor": 1452,
        "idProduct": 34057, "IOProbeScore": 9000}})
    host = host_with(FALLBACK)
    host.kernel.catalogue.add_bundle(rival)
    _crash(host)
    assert _bound(host) == "CameraDriver"
    fate = host.explain(camera(host)).outcome_of("RivalCamera")
    assert fate is not None and fate.outcome == "no-match"
    assert "only the crashed personality (IORematchPersonality)" in fate.reason


def test_past_the_relaunch_limit_the_personality_is_excluded(host_with):
    host = host_with(FALLBACK, IOKIT_DEXT_RELAUNCH_MAX="1")
    _crash(host)  # count 0
    _crash(host)  # count 1: still the dext
    assert _bound(host) == "CameraDriver"
    _crash(host)  # count 2 > 1: every personality but the dext's
    assert _bound(host) == "FallbackCamera"
    assert camera_driver(host) is None


def test_with_dextrelaunch_zero_no_dext_rematches_after_a_crash(host_with):
    host = host_with(FALLBACK, IOKIT_DEXT_RELAUNCH_MAX="0")
    _crash(host)
    assert _bound(host) is None  # only the crashed personality, and dexts are skipped
    assert dexts(host).rows()[0].launches == 1
    host.kernel.register_service(camera(host))  # a later pass is an ordinary one
    host.kernel.run_until_quiet()
    assert _bound(host) == "CameraDriver"


def test_a_bad_relaunch_limit_is_a_warning_and_the_default_holds(host_with):
    host = host_with(IOKIT_DEXT_RELAUNCH_MAX="many")
    assert dexts(host).relaunch_max == 1000
    assert "dext-bad-setting" in {d.reference for d in host.diagnostics}


def test_without_a_rematch_personality_every_candidate_stays(host_with):
    host = host_with(FALLBACK)
    entries = list(host.kernel.catalogue)
    assert rematch_candidates(host.kernel, camera(host), entries) == (entries, None)
