"""A checkout as a newcomer meets it: nothing in it stops ``python -m venv .venv``, build
outputs are ignored, running the ``iokit`` command from it leaves it as it was, and the
README's quick test run is quick."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def test_no_virtual_environment_or_build_output_is_tracked() -> None:
    tracked = _git("ls-files").splitlines()
    # a tracked `.venv` file (tox's redirect to an environment) makes `python -m venv .venv`
    # fail in a fresh clone
    assert ".venv" not in tracked
    assert not [path for path in tracked
                if path.split("/")[0] in ("build", "dist") or ".egg-info/" in path]


@pytest.mark.parametrize("path", [".venv", ".venv/bin/python", "build/lib/x.py",
                                  "sdk/build/lib/x.py", "sdk/iokit_sdk.egg-info/PKG-INFO",
                                  "dist/iokit_host-0.1.0-py3-none-any.whl", ".tox/py311/x"])
def test_build_outputs_and_environments_are_ignored(path: str) -> None:
    assert _git("check-ignore", "--no-index", path).strip() == path


def _untracked_and_changed() -> str:
    return _git("status", "--porcelain", "--ignored")


def test_running_the_command_from_the_checkout_changes_nothing_in_it(tmp_path: Path) -> None:
    before = _untracked_and_changed()
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for args in (["boot"], ["kmutil", "create"], ["machine", "show", "default"],
                 ["new", "acme-keyboard", "--defaults", "-o", str(tmp_path)]):
        done = subprocess.run([sys.executable, "-m", "iokit_host", *args], cwd=ROOT,
                              env=environ, capture_output=True, text=True, check=False,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    assert _untracked_and_changed() == before


def test_the_readmes_quick_run_leaves_out_slow_tests_and_benchmarks() -> None:
    # A -m given on the command line replaces pyproject's -m "not bench".
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "-m", "not slow", "tests/bench",
                           "tests/cli/test_new.py"], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected, done.stdout + done.stderr
    assert not [test for test in collected if test.startswith("tests/bench/")]
    assert not [test for test in collected
                if "installs_binds" in test or "generated_readme_runs" in test]
