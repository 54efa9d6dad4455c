"""``iokit dext list`` and ``--isolate``, run as a user runs them: the ``iokit`` command in a
real process, with the test kexts installed as distributions on ``PYTHONPATH``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KEXTS = Path(__file__).parents[1] / "dext" / "kext"
_IDS = {"iokit_test_dext": "com.example.test.dext",
        "iokit_test_isolated": "com.example.test.isolated"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dexts")
    for package, bundle_id in _IDS.items():
        shutil.copytree(KEXTS / package, root / package)
        info = root / f"{package}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n",
                                       encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[iokit.kexts]\n{bundle_id} = {package}\n",
                                               encoding="utf-8")
    return root


def _iokit(installed: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(installed), IOKIT_NO_CACHE="1")
    env.pop("IOKIT_TEST_DEXT_MODE", None)
    return subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_dext_list_json_shows_servers_pids_states_and_crashes(installed: Path):
    done = _iokit(installed, "dext", "list", "--json", "--isolate", "com.example.test.isolated")
    assert done.returncode == 0, done.stderr
    rows = {r["bundle_id"]: r for r in json.loads(done.stdout)["extensions"]}
    dext = rows["com.example.test.dext"]
    assert dext["server"] == "com.example.test.dext" and dext["version"] == "1.0"
    # It lost the camera to SteadyDriver (a higher IOProbeScore), so its server, hosting
    # nothing, exited.
    assert (dext["pid"], dext["state"], dext["launches"]) == (None, "idle", 1)
    isolated = rows["com.example.test.isolated"]
    # ExitingDriver ended its process in start; SteadyDriver runs in the relaunched one.
    assert (isolated["crashes_in_window"], isolated["state"], isolated["services"]) == \
        (1, "running", 1)
    assert "Traceback" not in done.stderr
    assert "error[dext-client-crashed]" in done.stderr


def test_dext_list_table_has_systemextensionsctl_layout(installed: Path):
    # Without --isolate, ExitingDriver's os._exit would end the iokit command itself.
    done = _iokit(installed, "dext", "list", "--isolate", "com.example.test.isolated")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Installed samples (the camera dext) are listed too: count only that the header says
    # how many rows follow.
    rows = [line for line in lines[3:] if line.startswith("*")]
    assert lines[0] == f"{len(rows)} extension(s)" and len(rows) >= 2
    assert lines[1:3] == ["--- com.apple.system_extension.driver_extension",
                          "enabled\tactive\tbundleID (version)\tserver\tpid\tcrashes\t[state]"]
    dext = next(line for line in lines if "com.example.test.dext (1.0)" in line)
    assert dext.startswith("*\t\t") and dext.endswith("\t-\t0\t[idle]")
    isolated = next(line for line in lines if "com.example.test.isolated (1.0)" in line)
    assert isolated.startswith("*\t*\t") and isolated.endswith("\t1\t[running]")


def test_boot_with_isolate_finishes_with_the_next_candidate_bound(installed: Path):
    done = _iokit(installed, "boot", "--isolate", "com.example.test.isolated")
    assert done.returncode == 0, done.stderr
    assert "SteadyDriver" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_dext_the_entitlement_checks_refuse_is_explained_and_the_boot_goes_on(
        installed: Path, tmp_path: Path):
    import plistlib

    root = tmp_path / "site"
    shutil.copytree(installed, root)
    path = root / "iokit_test_dext" / "Entitlements.plist"
    entitlements = plistlib.loads(path.read_bytes())
    entitlements["com.apple.developer.driverkit.transport.usb"] = [{"idVendor": 1133}]
    path.write_bytes(plistlib.dumps(entitlements))
    isolate = ("--isolate", "com.example.test.isolated")  # its os._exit would end iokit
    boot = _iokit(root, "boot", *isolate)
    assert boot.returncode == 0 and "Traceback" not in boot.stderr, boot
    assert "error[dext-not-entitled]" in boot.stderr
    assert "does not list FaceTime HD Camera (Built-in) (idVendor 1452 (0x05ac))" in boot.stderr
    explained = _iokit(root, "explain", "FaceTime HD Camera (Built-in)", *isolate)
    row = next(line for line in explained.stdout.splitlines() if "com.example.test.dext" in line)
    assert "not-entitled" in row and "provider entitlements check failed" in row
