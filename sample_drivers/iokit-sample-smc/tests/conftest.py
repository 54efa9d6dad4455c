"""Fixtures: a running kernel with the SMC kext (``kernel_fixture.Kernel``)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kernel_fixture import (
    Kernel,
    kext_path,
)


def _make_importable() -> None:
    """Run from a checkout where the kext is not installed: put a distribution folder of it
    on ``sys.path`` so that kext discovery (entry points) finds it in this process too."""
    directory = tempfile.mkdtemp(prefix="smcdist")
    dist = kext_path(directory)
    if dist is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    os.chmod(directory, 0o755)  # the tools also run as another uid
    sys.path.insert(0, dist)
    # The processes the tests start (the kernel, the tools) find it the same way.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (dist, os.environ.get("PYTHONPATH")) if p)
    os.environ["IOKIT_NO_CACHE"] = "1"
    atexit.register(shutil.rmtree, directory, True)


_make_importable()


@pytest.fixture
def start_kernel() -> Iterator[Callable[..., Kernel]]:
    started: list[Kernel] = []

    def start(*args: str) -> Kernel:
        started.append(Kernel(*args))
        return started[-1]

    yield start
    for kernel in started:
        kernel.close()
