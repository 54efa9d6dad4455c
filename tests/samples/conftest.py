"""The sample drivers installed with pip into the session's throwaway environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iokit_host.testing.venv import Venv

SAMPLES = Path(__file__).resolve().parents[2] / "sample_drivers"
#: What the README's Quickstart installs: every sample_drivers/iokit-sample-* folder.
INSTALLABLE = sorted(SAMPLES.glob("iokit-sample-*"))
FAMILY_1 = SAMPLES / "versions" / "wlan-family-1"
FAMILY_2 = SAMPLES / "iokit-sample-wlan-family"


@pytest.fixture(scope="session")
def samples_venv(iokit_venv: Venv) -> Venv:
    """``iokit_venv`` with every ``iokit-sample-*`` distribution installed (not editable)."""
    iokit_venv.pip_install(*INSTALLABLE)
    return iokit_venv


@pytest.fixture(scope="session")
def in_venv() -> Callable[[Venv, str], Any]:
    """Run a Python snippet in an environment; it prints one JSON document, returned decoded."""

    def run(venv: Venv, code: str) -> Any:
        done = venv.run(venv.python, "-c", code, env={"IOKIT_NO_CACHE": "1"})
        return json.loads(done.stdout)

    return run
