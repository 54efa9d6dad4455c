"""What driver code run outside the work loop's jobs changed in the host, checked as a job is:
one run at a time, or a period of many runs (a running kernel's requests) sharing its
checks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from powerkit import power_host

from iokit_host.kernel.job_checks import CHECK_EVERY


def _drop_stdout() -> None:
    sys.stdout = None  # type: ignore[assignment]


def test_a_run_that_replaces_a_stream_is_named_at_once_within_a_period() -> None:
    """A ``sys`` stream replaced is seen after the run that did it (no system call needed),
    and blamed on it alone, not on the runs before it."""
    host = power_host()
    innocent, culprit = IOService(name="innocent"), IOService(name="culprit")
    kept = sys.stdout
    try:
        with host.kernel.checking():
            host.kernel.run_checked(lambda: None, "while serving a client's open request",
                                    innocent)
            host.kernel.run_checked(_drop_stdout, "while serving a client's call request",
                                    culprit)
            restored = sys.stdout
    finally:
        sys.stdout = kept
    assert restored is kept
    (found,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert found.message.startswith("driver code run in IOService 'culprit' while serving a "
                                    "client's call request closed, redirected")


def test_a_descriptor_changed_within_a_period_is_put_back_and_its_driver_named() -> None:
    """A descriptor is looked at every few runs and when the period ends (a system call
    each): a driver that points fd 1 elsewhere has it put back, and is named."""
    host = power_host()
    driver = IOService(name="redirector")
    before = os.fstat(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        with host.kernel.checking():
            host.kernel.run_checked(lambda: os.dup2(null, 1), "while serving a client's "
                                    "call request", driver)
            for _ in range(CHECK_EVERY - 1):
                host.kernel.run_checked(lambda: None, "while serving a client's call request",
                                        driver)
            after = os.fstat(1)
    finally:
        os.close(null)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    (found,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert "IOService 'redirector'" in found.message and "stdout (fd 1)" in found.message


MOVER = '''\
import os

from iokit_sdk import IOService


class Mover(IOService):
    def start(self, provider):
        os.chdir({elsewhere!r})
        return True
'''


def test_a_driver_that_changes_the_working_directory_has_it_put_back(
        package_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kext's ``os.chdir`` (to read firmware beside its module) moved the host: a running
    kernel's relative ``--socket`` was republished in the driver's directory, out of its
    clients' reach, and left there at shutdown. It is put back after the job, the nub named."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(home)
    (package_dir / "mover").mkdir()
    (package_dir / "mover" / "__init__.py").write_text(MOVER.format(elsewhere=str(elsewhere)))
    mover = kext("com.test.mover", {"m": personality("Mover", score=9000)}, package="mover")
    host = make_host([wifi_nub()], [mover]).boot()
    assert Path.cwd() == home
    assert [d.iokit_class_name for d in host.drivers_of("pci14e4,4331")] == ["Mover"]
    (found,) = [str(d) for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert found.startswith("warning[driver-changed-host]: driver code run while the kernel "
                            f"matched pci14e4,4331 changed the working directory from {home} "
                            f"to {elsewhere}; put back")
    assert "hint: a kext shares the kernel's process and its working directory" in found


def test_a_working_directory_changed_within_a_period_is_put_back_and_its_driver_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A running kernel's requests share one check, taken every few requests and when the
    period ends: the directory is back by then, and the driver named."""
    monkeypatch.chdir(tmp_path)
    host = power_host()
    driver = IOService(name="wanderer")
    with host.kernel.checking():
        host.kernel.run_checked(lambda: os.chdir("/"), "while serving a client's call request",
                                driver)
    assert Path.cwd() == tmp_path
    (found,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert found.message == ("driver code run in IOService 'wanderer' while serving a client's "
                             f"call request changed the working directory from {tmp_path} to "
                             "/; put back")


@pytest.mark.parametrize("culprit_at", [0, 5, CHECK_EVERY - 1])
def test_a_change_found_among_runs_of_two_drivers_names_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, culprit_at: int) -> None:
    """The period counts its runs while they are one driver's in one place, and lists them
    only once one differs: whichever run is another driver's, the check that finds the
    change names the drivers of every run since the last check, not the first one's alone."""
    monkeypatch.chdir(tmp_path)
    host = power_host()
    regular, wanderer = IOService(name="regular"), IOService(name="wanderer")
    where = "while serving a client's call request"
    with host.kernel.checking():
        for index in range(CHECK_EVERY):
            if index == culprit_at:
                host.kernel.run_checked(lambda: os.chdir("/"), where, wanderer)
            else:
                host.kernel.run_checked(lambda: None, where, regular)
        assert Path.cwd() == tmp_path  # checked at the CHECK_EVERY-th run
    (found,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert found.message.startswith(f"driver code run in one of regular, wanderer {where} "
                                    "changed the working directory")


def test_a_change_found_among_runs_of_one_driver_names_it() -> None:
    host = power_host()
    driver = IOService(name="wanderer")
    kept = os.getcwd()
    try:
        with host.kernel.checking():
            for _ in range(CHECK_EVERY - 1):
                host.kernel.run_checked(lambda: None, "while serving a client's call request",
                                        driver)
            host.kernel.run_checked(lambda: os.chdir("/"), "while serving a client's call "
                                    "request", driver)
            assert os.getcwd() == kept
    finally:
        os.chdir(kept)
    (found,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert found.message.startswith("driver code run in IOService 'wanderer' while serving a "
                                    "client's call request changed the working directory")
