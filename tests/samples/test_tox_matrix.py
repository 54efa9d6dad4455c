"""The dependent sample's tox matrix: AppleBCM43xx against WLAN family 1.x and 2.x.

Runs real tox on ``sample_drivers/iokit-sample-bcm43xx/tox.ini`` for this Python, both
family factors. The family1 environment must pass *because* its suite sees the kernel refuse
the kext (``kext-library-incompatible``), and family2 because the driver binds with 5000.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.testing.venv import Venv

from .conftest import FAMILY_1, FAMILY_2, SAMPLES

pytestmark = pytest.mark.slow

PY = f"py3{sys.version_info.minor}"


def test_both_family_lines_pass_with_their_own_expectation(tmp_path: Path,
                                                          iokit_venv: Venv) -> None:
    envs = [f"{PY}-family1", f"{PY}-family2"]
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "TOX_", "VIRTUAL_ENV"))}
    # What tox installs is built here first, outside the sources: tox would build each folder
    # in place (build/, *.egg-info), into the checkout and at the same time as other runs.
    checkout = SAMPLES.parent
    environ |= {variable: str(iokit_venv.build_wheel(folder)) for variable, folder in {
        "IOKIT_SDK_SPEC": checkout / "sdk", "IOKIT_HOST_SPEC": checkout,
        "WLAN_FAMILY1_SPEC": FAMILY_1, "WLAN_FAMILY2_SPEC": FAMILY_2}.items()}
    driver = iokit_venv.build_wheel(SAMPLES / "iokit-sample-bcm43xx")
    done = subprocess.run(
        [sys.executable, "-m", "tox", "-e", ",".join(envs), "--workdir", str(tmp_path),
         "-c", str(SAMPLES / "iokit-sample-bcm43xx"), "--installpkg", str(driver),
         "--", "-v", "-p", "no:cacheprovider"],
        capture_output=True, text=True, env=environ, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # tox prints "<env>: commands[0] <cwd>> pytest ..." before each environment's run
    family1, family2 = (re.split(rf"{env}: commands\[0\][^>]*>", output, maxsplit=1)[1]
                        .split("congratulations")[0].split(f"{envs[1]}: install")[0]
                        for env in envs)
    assert "test_is_refused_by_the_1x_family PASSED" in family1, output
    assert "test_outbids_the_family_on_the_bcm4331 SKIPPED" in family1, output
    assert "test_outbids_the_family_on_the_bcm4331 PASSED" in family2, output
    assert "test_is_refused_by_the_1x_family SKIPPED" in family2, output
