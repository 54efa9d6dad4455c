"""A faulty kext for tests of the real ``iokit`` command: installed as a distribution folder
(package + ``.dist-info``) on ``PYTHONPATH``, matching the default machine's SMC; what it does
wrong is chosen per run by ``IOKIT_TEST_FENCE_FAULT`` (tests/kernel/test_host_fence.py,
tests/kernel/test_exit_handlers.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kernelkit import kernel_env

__all__ = ["DRIVER", "PLIST", "boot_fenced", "fenced_dist"]

PLIST = """<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>CFBundleExecutable</key><string>iokit_fenced</string>
<key>CFBundleIdentifier</key><string>com.test.fenced</string>
<key>CFBundleVersion</key><string>1.0.0</string>
<key>IOKitPersonalities</key><dict><key>Fenced</key><dict>
  <key>CFBundleIdentifier</key><string>com.test.fenced</string>
  <key>IOClass</key><string>FencedDriver</string>
  <key>IONameMatch</key><string>APP0001</string>
  <key>IOProbeScore</key><integer>40000</integer>
  <key>IOProviderClass</key><string>IOACPIPlatformDevice</string>
</dict></dict>
<key>OSBundleLibraries</key><dict><key>com.apple.kpi.iokit</key><string>9.0.0</string></dict>
</dict></plist>
"""
DRIVER = '''\
import os

from iokit_sdk import IOService

FAULT = os.environ.get("IOKIT_TEST_FENCE_FAULT", "")
if FAULT == "exit-at-import":
    os._exit(9)
if FAULT == "drop-sdk-modules-at-import":
    import sys
    for name in [n for n in sys.modules if n.startswith("iokit_sdk")]:
        del sys.modules[name]


def _register_exit_handler(kind):
    import atexit
    import time

    def handler():
        if kind == "exit":
            os._exit(7)
        elif kind == "sleep":
            time.sleep(3600)
        elif kind == "raise":
            raise RuntimeError("no device to park")
        elif kind == "write":
            with open(os.environ["IOKIT_TEST_FENCE_FILE"], "a") as written:
                written.write("parked")
        elif kind == "again":
            with open(os.environ["IOKIT_TEST_FENCE_FILE"], "a") as written:
                written.write("parked")
            atexit.register(handler)  # for ever, if each registration ran
    if kind == "os-exit":  # os._exit itself (the host's guard of it, while drivers run)
        atexit.register(os._exit, 3)
        return
    atexit.register(handler)
    if kind == "unregistered":
        atexit.register(os._exit, 8)
        atexit.unregister(os._exit)


class FencedDriver(IOService):
    def start(self, provider):
        if FAULT == "fork":
            os.fork()  # parent and child both go on: the child with the host's code after it
        elif FAULT == "close-streams":
            os.close(1)
            os.close(2)
        elif FAULT == "exit":
            os._exit(7)
        elif FAULT == "posix-exit":
            import posix
            posix._exit(7)
        elif FAULT == "redirect-streams":
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 1)
            os.dup2(null, 2)
        elif FAULT == "replace-stream-objects":
            import io
            import sys
            sys.stdout = None
            sys.stderr = io.StringIO()
        elif FAULT in ("close-stream-object", "reencode-streams"):
            import sys
            if FAULT == "close-stream-object":
                sys.stderr.close()
                raise RuntimeError("caf\u00e9 gone")
            sys.__stdout__.reconfigure(encoding="ascii", errors="strict")
            sys.stderr.reconfigure(encoding="ascii", errors="strict")
            self.set_name("Caf\u00e9")
        elif FAULT == "drop-sdk-modules":
            import sys
            for name in [n for n in sys.modules if n.startswith("iokit_sdk")]:
                del sys.modules[name]
        elif FAULT.startswith("atexit-thread-"):
            import threading

            def later():  # registers when told, between driver calls, then says so
                fifo = os.environ["IOKIT_TEST_FENCE_FILE"]
                with open(fifo) as go:
                    go.readline()
                _register_exit_handler(FAULT.removeprefix("atexit-thread-"))
                with open(fifo + ".done", "w") as done:
                    done.write("registered\\n")
            threading.Thread(target=later, name="late-registrar", daemon=True).start()
        elif FAULT.startswith("atexit-"):
            _register_exit_handler(FAULT.removeprefix("atexit-"))
        elif FAULT == "thread-left-running":
            import threading
            import time
            threading.Thread(target=time.sleep, args=(3600,), name="poller").start()
        self.register_service()
        return True
'''


@pytest.fixture(scope="module")
def fenced_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The faulty kext as an installed distribution folder (package + ``.dist-info``)."""
    root = tmp_path_factory.mktemp("fenced")
    (root / "iokit_fenced").mkdir()
    (root / "iokit_fenced" / "__init__.py").write_text(DRIVER, encoding="utf-8")
    (root / "iokit_fenced" / "Info.plist").write_text(PLIST, encoding="utf-8")
    info = root / "iokit_fenced-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iokit-fenced\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("[iokit.kexts]\ncom.test.fenced = iokit_fenced\n",
                                           encoding="utf-8")
    return root


def boot_fenced(dist: Path, fault: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", "boot"], capture_output=True,
                          text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
                          env=kernel_env(dist, IOKIT_TEST_FENCE_FAULT=fault, **env))
