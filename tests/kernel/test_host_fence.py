"""The host fence: a kext that forks the host, lowers the recursion limit, rebinds what every
driver shares (``builtins``, the ``iokit_sdk`` modules) or closes the standard streams fails
alone, with a diagnostic naming it, and the rest of the boot (and the running kernel) goes on.

The in-process cases load a faulty package as a kext, as tests/kernel/test_driver_calls.py
does; the fork and stream cases run the real ``iokit`` command (``boot`` and ``kernel``) in its
own process, with the faulty kext installed as a distribution folder on ``PYTHONPATH``."""

from __future__ import annotations

import builtins
import io
import os
import subprocess
import sys
import zlib
from pathlib import Path

import iokit_sdk.keys
import pytest
from fencekit import boot_fenced, fenced_dist
from hostkit import kext, make_host, personality, wifi_nub
from kernelkit import KernelFactory, kernel_env

from iokit_host.kernel.host_fence import DriverExit, seal_stream_close

__all__ = ["fenced_dist"]  # the fixture the command's tests use

NUB = "pci14e4,4331"

# -- in process ------------------------------------------------------------------------------
SOURCE = '''\
import builtins
import sys
import zlib

import iokit_sdk.keys
from iokit_sdk import IOService


class Faulty(IOService):
    def start(self, provider):
        {body}
        return True
'''


def _boot_faulty(package_dir: Path, name: str, body: str) -> list[str]:
    """Boot a machine whose wifi nub a faulty kext (``body`` in its start) outbids a vendor
    driver for; the messages of the diagnostics the boot reported."""
    (package_dir / name).mkdir()
    (package_dir / name / "__init__.py").write_text(SOURCE.format(body=body))
    faulty = kext("com.test.fenced", {"f": personality("Faulty", score=9000)}, package=name)
    vendor = kext("com.test.vendor", {"v": personality("VendorDriver", score=100)})
    host = make_host([wifi_nub()], [faulty, vendor]).boot()
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["VendorDriver"]
    assert host.kernel.driver_calls.watchdog.stack == []
    return [f"{d.reference}: {d.message}" for d in host.diagnostics]


def test_a_driver_that_lowers_the_recursion_limit_fails_and_the_limit_is_put_back(
        package_dir: Path) -> None:
    limit = sys.getrecursionlimit()
    # Low enough to break the host's next deep call, high enough for Python to accept.
    body = "import inspect\n        sys.setrecursionlimit(len(inspect.stack()) + 15)"
    (message,) = _boot_faulty(package_dir, "fenced_limit", body)
    assert message.startswith("driver-changed-host: ")
    assert "Faulty (com.test.fenced)" in message and "start changed the interpreter's " \
        f"recursion limit from {limit} to" in message
    assert sys.getrecursionlimit() == limit


@pytest.mark.parametrize(("body", "name"), [
    ("builtins.len = lambda value: 0", "builtins.len"),
    ("del builtins.isinstance", "builtins.isinstance"),
    ("iokit_sdk.keys.PROVIDER_CLASS = 'Nothing'", "iokit_sdk.keys.PROVIDER_CLASS"),
    ("import iokit_sdk\n        iokit_sdk.IOService = None", "iokit_sdk.IOService"),
], ids=["replace-builtin", "delete-builtin", "replace-sdk-key", "replace-sdk-class"])
def test_a_driver_cannot_rebind_what_the_host_and_every_driver_share(
        package_dir: Path, body: str, name: str) -> None:
    originals = (builtins.len, builtins.isinstance, iokit_sdk.keys.PROVIDER_CLASS)
    (message,) = _boot_faulty(package_dir, f"fenced_{zlib.crc32(body.encode())}", body)
    assert message.startswith("driver-changed-host: ") and "Faulty (com.test.fenced)" in message
    assert "a driver may not " in message and name in message
    assert (builtins.len, builtins.isinstance, iokit_sdk.keys.PROVIDER_CLASS) == originals


def test_outside_driver_calls_the_shared_modules_stay_writable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing is for driver code only: the host, a test's monkeypatch, still rebind them."""
    make_host([wifi_nub()], [])  # a kernel exists: the modules are sealed
    monkeypatch.setattr(iokit_sdk.keys, "PROVIDER_CLASS", "Patched")
    assert iokit_sdk.keys.PROVIDER_CLASS == "Patched"


# -- in the iokit command's own process (tests/fencekit.py) ------------------------------------
def test_a_driver_that_forks_fails_and_its_child_never_runs_the_rest_of_the_boot(
        fenced_dist: Path) -> None:
    done = boot_fenced(fenced_dist, "fork")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.count("+-o Root") == 1  # printed by the host, not by a copy of it too
    assert "FencedDriver" not in done.stdout  # its start failed: the SMC is not its
    (line,) = [x for x in done.stderr.splitlines() if "driver-forked" in x]
    assert "FencedDriver (com.test.fenced) on SMC: start forked the host process" in line
    child = int(line.split("child pid ")[1].split(",")[0])
    assert not Path(f"/proc/{child}").exists()  # stopped and reaped


@pytest.mark.parametrize("fault", ["exit", "posix-exit"])
def test_a_driver_that_calls_os_exit_fails_and_the_boot_goes_on(fenced_dist: Path,
                                                                fault: str) -> None:
    done = boot_fenced(fenced_dist, fault)
    assert done.returncode == 0, done.stderr  # not the driver's 7: the command ended itself
    assert "Traceback" not in done.stderr
    assert "+-o SMC" in done.stdout and "FencedDriver" not in done.stdout
    (line,) = [x for x in done.stderr.splitlines() if "driver-exited" in x]
    assert "FencedDriver (com.test.fenced) on SMC: start called os._exit(7)" in line


def test_a_kext_that_calls_os_exit_at_import_is_refused_and_the_boot_goes_on(
        fenced_dist: Path) -> None:
    done = boot_fenced(fenced_dist, "exit-at-import")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "+-o Root" in done.stdout
    (line,) = [x for x in done.stderr.splitlines() if "os._exit(9)" in x]
    assert "iokit_fenced" in line
    # its hint is about exiting, not the one about patching the SDK's classes it once had
    hint = done.stderr.splitlines()[done.stderr.splitlines().index(line) + 1]
    assert hint.strip().startswith("hint: a kext's module code runs in the kernel's process")


@pytest.mark.parametrize("fault", ["close-streams", "redirect-streams"])
def test_a_driver_that_closes_the_standard_streams_has_them_put_back(
        fenced_dist: Path, fault: str) -> None:
    done = boot_fenced(fenced_dist, fault)
    assert done.returncode == 0, done.stderr
    assert "+-o SMC" in done.stdout and "FencedDriver" in done.stdout  # the output arrived
    (line,) = [x for x in done.stderr.splitlines() if "driver-changed-host" in x]
    assert "while the kernel matched SMC" in line
    assert "standard streams (stdout (fd 1), stderr (fd 2)); put back" in line


def test_a_driver_that_replaces_the_stream_objects_has_them_put_back(
        fenced_dist: Path) -> None:
    """sys.stdout = None ended the boot in a traceback; a StringIO took all its output."""
    done = boot_fenced(fenced_dist, "replace-stream-objects")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "+-o SMC" in done.stdout and "FencedDriver" in done.stdout  # the output arrived
    (line,) = [x for x in done.stderr.splitlines() if "driver-changed-host" in x]
    assert "(sys.stdout, sys.stderr); put back" in line


def test_a_driver_that_closes_the_stderr_object_has_it_put_back(fenced_dist: Path) -> None:
    """sys.stderr.close() lost every diagnostic after it, and the exit status with them."""
    done = boot_fenced(fenced_dist, "close-stream-object")
    assert done.returncode == 0 and "internal error" not in done.stderr, done.stderr
    assert "start raised RuntimeError: caf\u00e9 gone" in done.stderr  # its fault is said
    (line,) = [x for x in done.stderr.splitlines() if "driver-changed-host" in x]
    assert "(sys.stderr (closed)" in line


def test_a_driver_that_reencodes_the_streams_has_them_put_back(fenced_dist: Path) -> None:
    """An ASCII sys.__stdout__ could not print the driver's name: the boot ended there."""
    done = boot_fenced(fenced_dist, "reencode-streams")
    assert done.returncode == 0 and "internal error" not in done.stderr, done.stderr
    assert "+-o Caf\u00e9  <class FencedDriver" in done.stdout
    (line,) = [x for x in done.stderr.splitlines() if "driver-changed-host" in x]
    assert "sys.stderr's encoding" in line and "sys.__stdout__'s encoding" in line


def test_a_driver_that_deletes_the_sdk_from_sys_modules_has_it_put_back(
        fenced_dist: Path) -> None:
    """The next kext to import the SDK got a second copy, and its classes were refused as
    unknown (blamed on it). The culprit is named, the modules put back."""
    done = boot_fenced(fenced_dist, "drop-sdk-modules")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "driver-changed-host" in x]
    assert "while the kernel matched SMC deleted or replaced" in line
    assert "shared modules in sys.modules (iokit_sdk" in line and "put back" in line


def test_a_kext_that_deletes_the_sdk_from_sys_modules_at_import_is_refused(
        fenced_dist: Path) -> None:
    done = boot_fenced(fenced_dist, "drop-sdk-modules-at-import")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "+-o SMC" in done.stdout and "FencedDriver" not in done.stdout
    (line,) = [x for x in done.stderr.splitlines() if "deleted or replaced" in x]
    assert "importing iokit_fenced" in line and "sys.modules (iokit_sdk" in line


def test_a_thread_a_driver_leaves_running_does_not_keep_the_command_alive(
        fenced_dist: Path) -> None:
    done = boot_fenced(fenced_dist, "thread-left-running")  # it sleeps an hour: the timeout is 120 s
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].endswith("0 waiting")
    (line,) = [x for x in done.stderr.splitlines() if "driver-thread-left-running" in x]
    assert "'poller'" in line


def test_the_running_kernel_serves_after_a_driver_closed_its_streams(
        fenced_dist: Path) -> None:
    factory = KernelFactory(fenced_dist)
    try:
        kernel = factory.start(env=kernel_env(fenced_dist, IOKIT_TEST_FENCE_FAULT="close-streams"))
        env = {**os.environ, "IOKIT_KERNEL": kernel.path}
        listed = subprocess.run([sys.executable, "-m", "iokit_host", "ioreg", "-c",
                                 "FencedDriver"], capture_output=True, text=True, env=env,
                                timeout=120, check=False)
        assert listed.returncode == 0 and "FencedDriver" in listed.stdout, listed.stderr
        assert kernel.stop() == 0
        assert "driver-changed-host" in kernel.stderr()
    finally:
        factory.close()


def test_an_exit_status_that_is_no_small_int_is_named_by_its_type_not_printed() -> None:
    class Loud:
        def __repr__(self) -> str:
            raise RuntimeError("a driver's repr")

    assert "os._exit(3)" in str(DriverExit(3))
    assert "os._exit(<Loud>)" in str(DriverExit(Loud()))
    assert "os._exit(<int>)" in str(DriverExit(10 ** 5000))  # past the digit limit's repr


def test_a_sealed_stream_closes_outside_driver_calls_and_its_undo_removes_the_seal() -> None:
    stream = io.StringIO()
    undo = seal_stream_close(stream, "stdout")
    assert undo is not None and "close" in vars(stream)
    undo()
    assert "close" not in vars(stream)
    seal_stream_close(stream, "stdout")
    stream.close()  # no driver call runs: the stream's own close
    assert stream.closed
