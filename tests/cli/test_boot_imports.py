"""What ``iokit boot`` imports: only what a boot uses, so its start-up cost does not creep back.

Most of a short command's time is imports (tests/bench/test_boot_command_bench.py measures
it). These tests pin the packages a boot of the default machine must not load: in the host,
once its caches are fresh; in a dext's driver process, before it checks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Never needed by a boot from fresh caches: the distribution walk (importlib.metadata, and
#: the email package it reads METADATA with, packaging for versions), the crash report's
#: traceback, importlib.resources (the built-in machines are a folder), ioreg's archive and
#: JSON writers (a boot prints text), and the host's other commands.
HOST_MUST_NOT_IMPORT = (
    "importlib.metadata", "email", "packaging", "traceback", "difflib",
    "importlib.resources", "zipfile", "iokit_host.ioreg.archive", "iokit_host.ioreg.jsonout",
    "iokit_host.kext.manifest", "iokit_host.explorer", "iokit_host.explorer_archive",
    "iokit_host.ioreg_import", "iokit_host.scenario", "iokit_host.server",
    "iokit_host.conformance", "iokit_host.explain", "iokit_host.scaffold",
)

#: A driver process imports the SDK, its end of the socket and its driver, never the kernel;
#: nor argparse (its options are read by hand), nor tempfile and shutil (a buffer's file
#: imports them when one is made): each is a share of a dext's start.
DRIVER_MUST_NOT_IMPORT = (
    "pluggy", "importlib.metadata", "email", "tomllib", "argparse", "gettext", "tempfile",
    "shutil", "iokit_host.host", "iokit_host.kernel",
    "iokit_host.kext", "iokit_host.matching", "iokit_host.machine", "iokit_host.power",
    "iokit_host.registry", "iokit_host.cli", "iokit_host.dext.manager",
)


def _offending(imported: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported
                  if any(m == b or m.startswith(b + ".") for b in banned))


def test_a_boot_from_fresh_caches_imports_only_what_it_uses(tmp_path: Path) -> None:
    env = {**os.environ, "IOKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("IOKIT_NO_CACHE", None)
    command = [sys.executable, "-X", "importtime", "-m", "iokit_host", "boot"]
    subprocess.run(command, env=env, capture_output=True, check=True, timeout=120)  # caches
    warm = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert warm.returncode == 0, warm.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in warm.stderr.splitlines()
                if line.startswith("import time:")}
    assert {"iokit_host.host", "iokit_host.dext.manager"} <= imported  # a dext was launched
    assert "SampleCameraDext" in warm.stdout
    assert _offending(imported, HOST_MUST_NOT_IMPORT) == []


def test_a_driver_process_imports_no_kernel_before_checking_in() -> None:
    """The driver process's module and a dext's package (the Quickstart's camera sample):
    what the child imports before its check-in."""
    probe = ("import sys, iokit_host.dext.driver_process, iokit_host.dext.server, "
             "iokit_sample_camera_dext\n"
             "print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60)
    imported = set(done.stdout.split())
    assert {"iokit_host.dext.server", "iokit_sdk.service"} <= imported
    assert _offending(imported, DRIVER_MUST_NOT_IMPORT) == []


def test_the_console_script_freezes_its_commands_modules_but_main_leaves_a_program_alone(
        ) -> None:
    """``iokit`` (one command, then the process ends) freezes what importing its command made,
    so the collector never walks it; a program that calls ``main`` keeps its collector and
    nothing of its is frozen."""
    # Compared with the count at start: Python 3.12 starts with objects of its own frozen.
    probe = ("import contextlib, gc, io, sys\n"
             "at_start = gc.get_freeze_count()\n"
             "from iokit_host.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    main(['kextstat', '--help'])\n"
             "print(gc.isenabled(), gc.get_freeze_count() - at_start)\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    main(['machine', '--help'], one_shot=True)\n"
             "print(gc.isenabled(), gc.get_freeze_count() > at_start,\n"
             "      'iokit_host.cli.machine' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.split("\n")[:2] == ["True 0", "True True True"]
