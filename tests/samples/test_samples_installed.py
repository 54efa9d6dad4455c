"""The sample drivers as a user gets them: pip-installed, discovered, booted, tested.

Slow: everything runs in the session's throwaway virtual environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from iokit_host.testing.venv import Venv

from .conftest import FAMILY_1, FAMILY_2, INSTALLABLE

pytestmark = pytest.mark.slow

DISCOVER = """
import json
from iokit_host.kext.discovery import discover
found = discover(use_cache=False)
# Distribution names as PEP 503 normalises them (setuptools may write underscores).
name = lambda b: b.distribution.name.replace("_", "-").lower()
print(json.dumps({b.bundle_id: [b.version, name(b), b.package] for b in found.bundles}))
"""

EXPLAIN_ARPT = """
import json
from iokit_host.host import IOKitHost
host = IOKitHost().boot()
print(json.dumps({"candidates": host.explain("ARPT").to_json()["candidates"],
                  "diagnostics": [d.to_json() for d in host.diagnostics]}))
"""

Run = Callable[[Venv, str], Any]


def test_every_sample_is_discovered_by_its_entry_point(samples_venv: Venv, in_venv: Run) -> None:
    found = in_venv(samples_venv, DISCOVER)
    assert found["com.example.iokit.WLANFamily"] == ["2.1.0", "iokit-sample-wlan-family",
                                                     "iokit_sample_wlan_family"]
    assert found["com.example.driver.BCM43xx"][1:] == ["iokit-sample-bcm43xx",
                                                       "iokit_sample_bcm43xx"]
    assert found["com.example.thirdparty.WiFiKext"][1] == "iokit-sample-thirdparty-wifi"
    assert found["com.example.driver.HIDKeyboard"][1] == "iokit-sample-hid-keyboard"
    assert found["com.example.driver.AppleSMC"][1] == "iokit-sample-smc"
    # The seed picture's generic driver is a sample kext, not part of the kernel.
    assert found["com.example.iokit.PCIGeneric"][1:] == ["iokit-sample-pci-generic",
                                                         "iokit_sample_pci_generic"]


def test_the_bcm4331_goes_to_the_highest_probe_score(samples_venv: Venv, in_venv: Run) -> None:
    # The seed picture: generic 100, vendor 5000 (wins), family 1500, third party 600.
    result = in_venv(samples_venv, EXPLAIN_ARPT)
    fates = {c["class"]: (c["score"], c["outcome"]) for c in result["candidates"]}
    assert fates == {
        "AppleBCM43xx": (5000, "started"),
        "IOWLANDriver": (1500, "lost"),
        "ThirdPartyWiFiKext": (600, "lost"),
        "IOPCIDeviceGeneric": (100, "lost"),
    }


@pytest.mark.parametrize("sample", INSTALLABLE, ids=lambda p: p.name)
def test_each_samples_own_tests_pass_when_installed(samples_venv: Venv, sample: Any) -> None:
    done = samples_venv.run(samples_venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests", cwd=sample, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


def test_the_1x_family_refuses_the_driver_that_needs_2x(samples_venv: Venv,
                                                         in_venv: Run) -> None:
    samples_venv.pip_install(FAMILY_1)  # what tox's family1 environment does
    try:
        result = in_venv(samples_venv, EXPLAIN_ARPT)
        refusals = [d for d in result["diagnostics"]
                    if d.get("subject") == "com.example.driver.BCM43xx"]
        assert [d["reference"] for d in refusals] == ["kext-library-incompatible"]
        assert "not 2.0.0" in refusals[0]["message"]
        fates = {c["class"]: (c["score"], c["outcome"]) for c in result["candidates"]}
        assert fates["IOWLANDriver"] == (1500, "started")
        assert "AppleBCM43xx" not in fates  # a refused kext publishes no personality
        # The sample's own suite expects the refusal under the family1 factor.
        done = samples_venv.run(samples_venv.python, "-m", "pytest", "-q", "-p",
                                "no:cacheprovider", "tests",
                                cwd=FAMILY_2.parent / "iokit-sample-bcm43xx",
                                env={"WLAN_FAMILY_LINE": "1"}, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout and "3 skipped" in done.stdout
    finally:
        samples_venv.pip_install(FAMILY_2)
