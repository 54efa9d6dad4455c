"""``iokit new --data user_client=true``: the template's user-client option.

The rendered driver gets an ``IOUserClient2022`` (one method: the driver's power state), its
personality names it in ``IOUserClientClass``, and the rendered suite's test of it passes
(run here with the rendered kext put on the path as an installed distribution would be).
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main


def _render(tmp_path: Path, capsys: pytest.CaptureFixture[str], *data: str) -> Path:
    args = ["new", "acme-pad", "--defaults", "--output", str(tmp_path)]
    for answer in data:
        args += ["--data", answer]
    assert main(args) == 0, capsys.readouterr().err
    return tmp_path / "acme-pad"


def test_without_the_option_there_is_no_user_client(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = _render(tmp_path, capsys)
    assert not (root / "acme_pad" / "user_client.py").exists()
    personality, = plistlib.loads((root / "acme_pad" / "Info.plist").read_bytes())[
        "IOKitPersonalities"].values()
    assert "IOUserClientClass" not in personality


def test_the_option_adds_a_user_client_whose_test_passes(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    root = _render(tmp_path, capsys, "user_client=true")
    personality, = plistlib.loads((root / "acme_pad" / "Info.plist").read_bytes())[
        "IOKitPersonalities"].values()
    assert personality["IOUserClientClass"] == "AcmePadUserClient"
    source = (root / "acme_pad" / "user_client.py").read_text()
    assert "class AcmePadUserClient(IOUserClient2022)" in source
    assert "AcmePadUserClient" in (root / "acme_pad" / "__init__.py").read_text()
    info = root / "acme_pad-1.0.0.dist-info"  # what pip install -e would declare
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pad\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text(
        "[iokit.kexts]\ncom.example.driver.AcmePad = acme_pad\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH")) if p), "IOKIT_NO_CACHE": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests", "-k", "user_client"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
