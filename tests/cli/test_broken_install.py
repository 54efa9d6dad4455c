"""A broken install (a distribution the host needs that cannot be imported) is said as one,
naming the distribution and how to mend it, never "internal error" nor a traceback: real
``iokit`` processes whose import system hides or shadows the module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: A process whose import system has no ``BLOCKED`` module (as if its distribution were
#: uninstalled, however the test environment installs it), running ``iokit`` with the rest
#: of argv.
_RUNNER = """\
import importlib.abc
import sys

BLOCKED = sys.argv.pop(1)


class Gone(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == BLOCKED or name.startswith(f"{BLOCKED}."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Gone())
sys.argv[0] = "iokit"
from iokit_host.console import run

run()
"""


def _iokit(tmp_path: Path, *argv: str, env: dict[str, str] | None = None,
           blocked: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "IOKIT_CACHE_DIR": str(tmp_path / "cache"), **(env or {})}
    if blocked is None:
        command = [sys.executable, "-m", "iokit_host", *argv]
    else:
        runner = tmp_path / "runner.py"
        runner.write_text(_RUNNER)
        command = [sys.executable, str(runner), blocked, *argv]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, check=False,
                          timeout=120, cwd=tmp_path)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done


@pytest.mark.parametrize(("module", "distribution", "argv"), [
    ("iokit_sdk", "iokit-sdk", ("ioreg",)),
    ("pluggy", "pluggy", ("boot",)),
    ("msgpack", "msgpack", ("kernel", "--socket", "k.sock")),
    ("packaging", "packaging", ("boot",)),  # kexts scanned: no kernel collection
])
def test_a_missing_distribution_is_named_with_its_fix(
        tmp_path: Path, module: str, distribution: str, argv: tuple[str, ...]) -> None:
    done = _iokit(tmp_path, *argv, blocked=module, env={"IOKIT_NO_CACHE": "1"})
    assert done.returncode == 1, done.stderr
    assert (f"error[dependency-missing]: the {distribution} distribution cannot be imported: "
            f"No module named '{module}'") in done.stderr
    assert f"pip install --force-reinstall {distribution}" in done.stderr
    assert "reinstall iokit-host" in done.stderr


def test_a_shadowing_folder_on_the_path_is_named(tmp_path: Path) -> None:
    # A folder on PYTHONPATH holding its own iokit_sdk (a stale checkout, a stub) that fails.
    stub = tmp_path / "stub" / "iokit_sdk"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("not the real sdk")\n')
    path = os.pathsep.join([str(stub.parent), os.environ.get("PYTHONPATH", "")])
    done = _iokit(tmp_path, "ioreg", env={"PYTHONPATH": path})
    assert done.returncode == 1, done.stderr
    assert ("error[dependency-missing]: the iokit-sdk distribution cannot be imported: not the "
            f"real sdk (Python finds iokit_sdk at {stub / '__init__.py'})") in done.stderr
    assert "take it off the path" in done.stderr


def test_before_the_commands_are_imported_too(tmp_path: Path) -> None:
    # The console script imports the commands before their guard is in place: a module of
    # the host itself missing there (an incomplete install) is said, not a traceback.
    done = _iokit(tmp_path, "ioreg", blocked="iokit_host.cli")
    assert done.returncode == 1, done.stderr
    assert ("iokit: error[dependency-missing]: the iokit-host distribution cannot be imported: "
            "No module named 'iokit_host.cli'") in done.stderr
    assert "iokit-host's install is incomplete" in done.stderr


def test_a_bug_raising_import_error_is_still_an_internal_error() -> None:
    from iokit_host.dependencies import missing_distribution

    try:
        raise ImportError("a driver's own import failed")
    except ImportError as error:
        assert missing_distribution(error) is None


def test_version_from_a_checkout_never_installed(tmp_path: Path) -> None:
    # No site-packages (-S): iokit-host runs from a folder with no distribution metadata (a
    # copy of the packages: an editable install keeps iokit_host.egg-info in the checkout).
    import iokit_sdk

    import iokit_host

    folders = []
    for module in (iokit_host, iokit_sdk):
        package = Path(str(module.__file__)).parent
        copy = tmp_path / "checkout" / module.__name__ / package.name
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
        folders.append(str(copy.parent))
    code = (f"import sys; sys.path[:0] = {sorted(folders)!r}; sys.argv = ['iokit', '--version']"
            "; from iokit_host.console import run; run()")
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          check=False, timeout=120, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "error[dependency-missing]: iokit-host's version is unknown" in done.stderr
