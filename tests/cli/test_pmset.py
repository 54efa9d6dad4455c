"""``iokit pmset``: the sleep/wake log (text and JSON) and the assertions after a scenario of
power events, and ``sleepnow`` without a running system."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from iokit_host.cli import main

SLEEP_AND_WAKE = """\
[[event]]
action = "sleep"

[[event]]
action = "advance"
ms = 5000

[[event]]
action = "wake"
reason = "Lid Open"
"""
#: The samples this test needs installed (any other installed sample is checked too).
SAMPLES = ("iokit-sample-wlan-family", "iokit-sample-bcm43xx", "iokit-sample-hid-keyboard",
           "iokit-sample-pci-generic", "iokit-sample-thirdparty-wifi")


def _iokit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, check=False, timeout=300)


def _scenario(tmp_path: Path, text: str) -> str:
    path = tmp_path / "events.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _samples_installed() -> bool:
    try:
        return all(metadata.version(name) for name in SAMPLES)
    except metadata.PackageNotFoundError:
        return False


def _started_sample_drivers() -> dict[str, int]:
    """Class -> power state of every sample driver the default machine starts here (the
    same installed kexts the subprocess sees)."""
    from iokit_host.host import IOKitHost

    host = IOKitHost().boot()
    assert host.resolution is not None
    samples = {b.bundle_id for b in host.resolution.load_order if b.distribution is not None
               and b.distribution.name.replace("_", "-").lower().startswith("iokit-sample-")}
    return {d.iokit_class_name: host.power.power_state(d) for d in host.kernel.binder.started
            if host.classes.owner_of(d.iokit_class_name) in samples}


@pytest.mark.skipif(not _samples_installed(), reason="the sample drivers are not installed")
def test_the_log_shows_a_sleep_and_a_wake_of_the_default_machine_with_every_sample_driver(
        tmp_path: Path) -> None:
    done = _iokit("pmset", "-g", "log", "--events", _scenario(tmp_path, SLEEP_AND_WAKE))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["Time", "stamp", "Domain", "Message", "Duration", "Delay"]
    assert lines[-1] == "Total Sleep/Wakes since boot at 1970-01-01 00:00:00 +0000 :1"
    (sleep_at,) = [i for i, line in enumerate(lines) if " Sleep    " in line]
    (wake_at,) = [i for i, line in enumerate(lines) if " Wake    " in line]
    assert "Entering Sleep state due to 'Software Sleep'" in lines[sleep_at]
    assert lines[wake_at].startswith("1970-01-01 00:00:05.000 +0000 Wake")
    assert "due to 'Lid Open'" in lines[wake_at]
    drivers = _started_sample_drivers()
    assert {"AppleBCM43xx", "SampleHIDKeyboard", "IOPCIDeviceGeneric"} <= set(drivers)
    for driver, on in drivers.items():
        down = [i for i, line in enumerate(lines)
                if f"\t{driver} IOService:/" in line and f"[{on} -> 0]" in line]
        up = [i for i, line in enumerate(lines)
              if f"\t{driver} IOService:/" in line and f"[0 -> {on}]" in line]
        assert down and all(sleep_at < i < wake_at for i in down), driver
        assert up and all(i > wake_at for i in up[-len(down):]), driver
    # the rivals that lost the Wi-Fi card were never started, so they are not in it
    assert "\tIOWLANDriver " not in done.stdout and "ThirdPartyWiFiKext" not in done.stdout


@pytest.mark.skipif(not _samples_installed(), reason="the sample drivers are not installed")
def test_the_json_log_has_exactly_the_documented_keys_and_drivers_drop_before_their_nubs(
        tmp_path: Path) -> None:
    done = _iokit("pmset", "-g", "log", "--json", "--events", _scenario(tmp_path, SLEEP_AND_WAKE))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"events"}
    keys = {"t_ms", "kind", "path", "class", "from", "to", "detail"}
    for event in data["events"]:
        assert set(event) in (keys, keys | {"duration_ms"})
    kinds = [e["kind"] for e in data["events"]]
    sleep_at, wake_at = kinds.index("system-sleep"), kinds.index("system-wake")
    drops = [e["path"] for e in data["events"][sleep_at:wake_at]
             if e["kind"] == "set-power-state"]
    card = next(p for p in drops if p.endswith("/AppleBCM43xx"))
    assert drops.index(card) < drops.index(card.rsplit("/", 1)[0])  # the card, then ARPT
    assert drops[-1].endswith("/IOPMrootDomain")
    rises = [e["path"] for e in data["events"][wake_at:] if e["kind"] == "set-power-state"]
    assert rises[0].endswith("/IOPMrootDomain")
    assert rises.index(card.rsplit("/", 1)[0]) < rises.index(card)  # ARPT, then the card


def test_assertions_print_as_pmset_does(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    scenario = _scenario(tmp_path, """\
[[event]]
action = "assert"
name = "copying files"
type = "PreventUserIdleSystemSleep"
owner = "cp"
pid = 314

[[event]]
action = "advance"
ms = 3723000

[[event]]
action = "idle"
""")
    assert main(["pmset", "-g", "assertions", "--only-kexts", "--events", scenario]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1970-01-01 01:02:03 +0000 "
    assert out[1] == "Assertion status system-wide:"
    assert "   PreventUserIdleSystemSleep     1" in out
    assert "   PreventSystemSleep             0" in out
    listed = out.index("Listed by owning process:")
    assert re.fullmatch(r'   pid 314\(cp\): \[0x0000013a[0-9a-f]{8}\] 01:02:03 '
                        r'PreventUserIdleSystemSleep named: "copying files" ', out[listed + 1])
    assert out[listed + 2:] == ["No kernel assertions."]


def test_no_assertion_is_listed_as_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pmset", "-g", "assertions", "--only-kexts"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[out.index("Listed by owning process:") + 1] == "   None"


def test_a_damaged_event_is_reported_and_the_rest_still_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = _scenario(tmp_path, '[[event]]\naction = "advance"\nms = "soon"\n'
                         + SLEEP_AND_WAKE + '[[event]]\naction = "tickle"\npath = "Nowhere"\n')
    assert main(["pmset", "-g", "log", "--only-kexts", "--events", scenario]) == 0
    captured = capsys.readouterr()
    assert "Total Sleep/Wakes since boot at 1970-01-01 00:00:00 +0000 :1" in captured.out
    assert "event[0].ms" in captured.err and "scenario-event-failed" in captured.err


def test_sleepnow_needs_a_running_system_and_says_so() -> None:
    done = _iokit("pmset", "sleepnow")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("iokit pmset: error[pmset-no-running-system]: sleepnow "
                                  "sleeps a running system")
    assert "Traceback" not in done.stderr and "hint:" in done.stderr


@pytest.mark.parametrize("args", [[], ["--json", "-g", "assertions"], ["-g", "nonsense"]])
def test_a_command_without_what_to_print_is_a_usage_error(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pmset", *args]) == 2
    assert "iokit pmset" in capsys.readouterr().err
