"""``iokit new --dext``: the template's DriverKit option.

Fast tests render with copier and read the result; the slow one installs each rendered dext
with pip into the session's throwaway environment and runs its generated tests there.
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

import pytest

from iokit_host.cli import main
from iokit_host.testing.venv import Venv


def _render(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str,
            name: str = "acme-cam") -> Path:
    status = main(["new", name, "--defaults", "--output", str(tmp_path), "--dext", *args])
    assert status == 0, capsys.readouterr().err
    return tmp_path / name


def _personality(root: Path, package: str = "acme_cam") -> dict[str, Any]:
    info = plistlib.loads((root / package / "Info.plist").read_bytes())
    assert info["CFBundlePackageType"] == "DEXT"
    (personality,) = info["IOKitPersonalities"].values()
    return dict(personality)


def test_a_dext_personality_names_its_server_user_class_and_kernel_class(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _render(tmp_path, capsys, "--data", "user_client=true")
    personality = _personality(root)
    assert personality["IOUserServerName"] == personality["CFBundleIdentifier"] == \
        "com.example.driver.AcmeCam"
    assert (personality["IOClass"], personality["IOUserClass"]) == ("IOUserService", "AcmeCam")
    assert personality["IOProviderClass"] == "IOUSBHostInterface"
    assert personality["IOUserClientClass"] == "AcmeCamUserClient"
    assert "IOUserServerOneProcess" not in personality
    entitlements = plistlib.loads((root / "acme_cam" / "Entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.developer.driverkit": True,
                            "com.apple.developer.driverkit.transport.usb": [{"idVendor": 1452}]}
    assert '"Entitlements.plist"' in (root / "pyproject.toml").read_text()


def test_a_family_proxy_one_process_and_user_resources(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    root = _render(tmp_path, capsys, "--provider-class", "IOUserResources", "--data",
                   "dext_class=AppleUserHIDEventService", "--data", "one_process=true")
    personality = _personality(root)
    assert personality["IOClass"] == "AppleUserHIDEventService"
    assert personality["IOUserServerOneProcess"] is True
    assert (personality["IOProviderClass"], personality["IOResourceMatch"]) == \
        ("IOUserResources", "IOKit")
    entitlements = plistlib.loads((root / "acme_cam" / "Entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.developer.driverkit": True}  # no transport


def test_a_dext_on_another_provider_class_is_refused_and_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["new", "acme-cam", "--defaults", "-o", str(tmp_path), "--dext",
                   "--provider-class", "IOPCIDevice"])
    assert status != 0
    err = capsys.readouterr().err
    assert "IOUSBHostInterface or IOUserResources" in err and "Traceback" not in err
    assert not (tmp_path / "acme-cam").exists()


def test_without_the_option_a_kext_has_no_entitlements_or_dext_keys(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "acme-kbd", "--defaults", "-o", str(tmp_path)]) == 0
    root = tmp_path / "acme-kbd"
    info = plistlib.loads((root / "acme_kbd" / "Info.plist").read_bytes())
    (personality,) = info["IOKitPersonalities"].values()
    assert info["CFBundlePackageType"] == "KEXT" and "IOUserServerName" not in personality
    assert not (root / "acme_kbd" / "Entitlements.plist").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "args", "passed"), [
    ("gen-dext-usb", ("--data", "user_client=true"), 6),
    ("gen-dext-res", ("--provider-class", "IOUserResources", "--data", "one_process=true"), 3),
])
def test_a_scaffolded_dext_installs_and_passes_its_tests(iokit_venv: Venv, tmp_path: Path,
                                                         name: str, args: tuple[str, ...],
                                                         passed: int) -> None:
    iokit = str(iokit_venv.bin / "iokit")
    iokit_venv.run(iokit, "new", name, "--defaults", "--dext", "-o", tmp_path, *args)
    iokit_venv.pip_install(tmp_path / name)
    try:
        tests = iokit_venv.run(iokit_venv.python, "-m", "pytest", "-q", "-p",
                               "no:cacheprovider", cwd=tmp_path / name, check=False)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert f"{passed} passed" in tests.stdout  # the dext's own: its process, its relaunch
        listed = iokit_venv.run(iokit, "dext", "list", "--json",
                                env={"IOKIT_NO_CACHE": "1"}).stdout
        assert '"server": "com.example.driver.' in listed and '"running"' in listed
    finally:
        # Leave the shared environment as other tests expect it.
        iokit_venv.run(iokit_venv.python, "-m", "pip", "uninstall", "-y", "-q", name)
