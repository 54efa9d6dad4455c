"""Stopping the running kernel: a driver that takes SIGTERM or SIGINT for itself (ignores it,
installs its own handler) does not make the kernel unstoppable: the kernel puts its handlers
back before it waits, names what had replaced them, and stops on the next signal in order;
and a driver raising KeyboardInterrupt itself does not stop it (only SIGINT does)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kernelkit import KernelFactory, kernel_env, run_client

PLIST = """<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>CFBundleIdentifier</key><string>com.test.signaltaker</string>
  <key>CFBundleVersion</key><string>1.0</string>
  <key>IOKitPersonalities</key><dict><key>Taker</key><dict>
    <key>CFBundleIdentifier</key><string>com.test.signaltaker</string>
    <key>IOClass</key><string>SignalTaker</string>
    <key>IOProviderClass</key><string>IOResources</string>
    <key>IOMatchCategory</key><string>SignalTaker</string>
  </dict></dict>
  <key>OSBundleLibraries</key><dict>
    <key>com.apple.kpi.iokit</key><string>9.0.0</string>
  </dict>
</dict></plist>
"""
SOURCE = '''
import signal
import subprocess
import sys
from iokit_sdk import IOService

__all__ = ["SignalTaker"]


def _mine(signum, frame):
    pass


class SignalTaker(IOService):
    def start(self, provider):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, _mine)
        self.register_service()
        return True

    def new_user_client(self, owning_task, security_id, type, properties):
        raise KeyboardInterrupt  # the driver's own raise: no SIGINT came
'''
CLIENT = """
from iokit_sdk.iokitlib import *
port = MainPort()
service = IOServiceGetMatchingService(port, IOServiceMatching("SignalTaker"))
for attempt in range(2):
    try:
        IOServiceOpen(service, mach_task_self(), 0)
    except IOReturnError as error:
        print(hex(error.code))
"""


@pytest.fixture
def taker_dist(tmp_path: Path) -> Path:
    package = tmp_path / "signal_taker"
    package.mkdir()
    (package / "__init__.py").write_text(SOURCE, encoding="utf-8")
    (package / "Info.plist").write_text(PLIST, encoding="utf-8")
    info = tmp_path / "signal_taker-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: signal-taker\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[iokit.kexts]\ncom.test.signaltaker = signal_taker\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_a_driver_taking_the_stop_signals_leaves_the_kernel_stoppable(
        taker_dist: Path, sig: int) -> None:
    factory = KernelFactory(taker_dist)
    try:
        kernel = factory.start(env=kernel_env(taker_dist))
        assert kernel.stop(sig) == 0  # in order: it would hang (SIGTERM) or go on (SIGINT)
        log = kernel.stderr()
        assert "SIGTERM's handler had been replaced by SIG_IGN" in log
        assert "SIGINT's handler had been replaced by signal_taker._mine" in log
        assert "kernel-signal-handler-replaced" in log and "shut down:" in log
        assert not os.path.exists(kernel.path)
    finally:
        factory.close()


def test_a_drivers_own_keyboard_interrupt_fails_its_call_not_the_kernel(
        taker_dist: Path) -> None:
    factory = KernelFactory(taker_dist)
    try:
        kernel = factory.start(env=kernel_env(taker_dist))
        opened = run_client(CLIENT, kernel)
        assert opened.stdout.split() == ["0xe00002c9", "0xe00002c9"], opened.stderr
        assert kernel.proc.poll() is None  # still serving
        assert kernel.stop(signal.SIGTERM) == 0
        assert re.search(r"new_user_client of SignalTaker 'SignalTaker' \(com\.[\w.]+\) on "
                         r"\S+ raised KeyboardInterrupt", kernel.stderr()), kernel.stderr()
    finally:
        factory.close()


def test_a_signal_after_the_stop_signals_closed_writes_to_no_closed_descriptor() -> None:
    """Closed, they leave no wake-up descriptor behind: a signal at the kernel's exit (the
    watchdog's, interrupting a driver's hung call) wrote to the closed socket, and Python
    printed 'Exception ignored when trying to write to the signal wakeup fd'."""
    code = ("import os, signal\n"
            "from iokit_host.server.signals import StopSignals\n"
            "stops = StopSignals()\n"
            "stops.install()\n"
            "stops.close()\n"
            "signal.signal(signal.SIGUSR1, lambda *_: None)\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\n"
            "print(signal.set_wakeup_fd(-1))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "-1"
    assert done.stderr == ""
