"""The process-wide settings a kext shares with the host (signal mask and SIGCHLD, warning
filters, interpreter settings and hooks, builtins, environment, umask, limits): each one a
driver changes is put back after its job, with a warning naming the nub, and the boot goes on.

The faulty kexts are real packages booted in this process; each test puts back what the old
code left behind (a ProcessState of its own), so a failure cannot reach the rest of the run."""

from __future__ import annotations

import gc
import os
import resource
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub

from iokit_host.kernel.job_checks import CHECK_EVERY
from iokit_host.kernel.process_state import ProcessState
from iokit_host.machine import NubSpec

NUB = "pci14e4,4331"

SOURCE = '''\
import builtins, faulthandler, gc, os, resource, signal, socket, sys, threading, warnings

from iokit_sdk import IOService


class Careless(IOService):
    def start(self, provider):
        {body}
        return True
'''


@pytest.fixture()
def state_kept() -> Iterator[ProcessState]:
    """The settings as they were, put back whatever the test's driver left."""
    kept = ProcessState()
    try:
        yield kept
    finally:
        kept.check()


def _boot(package_dir: Path, body: str) -> list[str]:
    """Boot a machine whose wifi nub a kext doing ``body`` in its start is matched on; the
    warnings the boot reported."""
    (package_dir / "careless").mkdir()
    (package_dir / "careless" / "__init__.py").write_text(SOURCE.format(body=body))
    careless = kext("com.test.careless", {"c": personality("Careless", score=9000)},
                    package="careless")
    host = make_host([wifi_nub()], [careless]).boot()
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["Careless"]  # it started
    return [str(d) for d in host.diagnostics if d.reference == "driver-changed-host"]


_LOW_FILES = "resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(" \
             "resource.RLIMIT_NOFILE)[1]))"


@pytest.mark.parametrize(("body", "said"), [
    ("signal.signal(signal.SIGCHLD, signal.SIG_IGN)",
     "a driver process's death reads as a clean exit) from SIG_DFL to SIG_IGN"),
    ("signal.signal(signal.SIGINT, signal.SIG_IGN)",
     "Ctrl-C no longer stops the command) from Python's (KeyboardInterrupt) to SIG_IGN"),
    ("signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2, signal.SIGTERM])",
     "a blocked SIGTERM the kernel's stop) from {} to {SIGTERM, SIGUSR2}"),
    ("warnings.simplefilter('error')", "changed the warning filters"),
    ("sys.set_int_max_str_digits(640)", "(sys.set_int_max_str_digits) from 4300 to 640"),
    ("sys.setswitchinterval(1000)", "watchdog's thread) from 0.005 s to 1000 s"),
    ("gc.disable()", "(gc.disable leaks every cycle) from on to off"),
    ("gc.callbacks.append(lambda phase, info: None)", "the garbage collector's callbacks"),
    ("sys.excepthook = threading.excepthook = print", "changed sys.excepthook, sys.unraisable"),
    ("os.environ['TZ'] = 'Asia/Tokyo'", "(TZ from unset to 'Asia/Tokyo')"),
    ("os.umask(0)", "changed the umask (the files the host writes) from 0o22 to 0o0"),
    (_LOW_FILES, "changed the open-file limit (RLIMIT_NOFILE"),
    ("socket.setdefaulttimeout(0.001)", "changed the default socket timeout"),
    ("faulthandler.register(signal.SIGUSR2)", "registered faulthandler on SIGUSR2 (it dumps"),
    ("faulthandler.dump_traceback_later(0.5, exit=True)",
     "dump_traceback_later(0.5 s, exit=True), which would have printed every thread's"),
], ids=["sigchld", "sigint", "sigmask", "warnings", "int-digits", "switch-interval", "gc-disable",
        "gc-callbacks", "excepthook", "environ", "umask", "nofile", "sockets",
        "faulthandler", "faulthandler-timer"])
def test_a_process_wide_setting_a_driver_changes_is_put_back_after_its_job(
        package_dir: Path, state_kept: ProcessState, body: str, said: str) -> None:
    os.umask(0o022)  # the values the messages show
    sys.set_int_max_str_digits(4300)
    sys.setswitchinterval(0.005)
    state = ProcessState()
    (message,) = _boot(package_dir, body)
    assert state.check() == []  # all back as they were
    assert message.startswith(f"warning[driver-changed-host]: driver code run while the "
                              f"kernel matched {NUB} ")
    assert said in message and message.rstrip().count("; put back") == 1
    assert "hint: a kext shares the kernel's process: signal handlers and masks" in message


def test_builtins_a_driver_replaced_through_their_dict_are_put_back_when_the_run_ends(
        package_dir: Path, state_kept: ProcessState) -> None:
    """``builtins.print = ...`` fails in the call (the module is sealed); through
    ``vars(builtins)`` it reached the host's own output."""
    (message,) = _boot(package_dir, "vars(builtins)['print'] = vars(builtins)['open'] = None")
    assert callable(print) and callable(open)
    assert message.startswith(f"warning[driver-changed-host]: driver code run while the kernel "
                              f"matched {NUB} changed builtins (the host's print, open and "
                              "the like); put back")


def test_the_hosts_own_warnings_stay_warnings_after_a_driver_made_them_errors(
        package_dir: Path, state_kept: ProcessState) -> None:
    """``warnings.simplefilter("error")`` turned the host's later ``warnings.warn`` (the
    pytest plugin's diagnostics) into exceptions with a traceback."""
    _boot(package_dir, "warnings.simplefilter('error')")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.warn("the host's", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["the host's"]


def test_a_limit_the_driver_lowered_below_reach_is_said_not_put_back(
        package_dir: Path, state_kept: ProcessState) -> None:
    """A hard limit lowered cannot be raised again by an unprivileged process: the warning
    says so rather than claiming it was put back."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if os.geteuid() == 0 or hard == resource.RLIM_INFINITY:
        pytest.skip("a process that may raise its hard limit again")
    (message,) = _boot(package_dir, "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))")
    assert "(not put back: " in message and message.count("the rest put back") == 1
    assert gc.isenabled() and signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL


WINDOW_SOURCE = '''\
import warnings

from iokit_sdk import IOService

SEEN = []


class Careless(IOService):
    def start(self, provider):
        SEEN.append(bool(warnings.filters) and warnings.filters[0][0] == "error")
        if len(SEEN) == 20:
            warnings.simplefilter("error")
        return True
'''


def test_a_setting_changed_among_many_jobs_is_put_back_within_a_few_and_its_nub_named(
        package_dir: Path, state_kept: ProcessState) -> None:
    """Compared every few jobs (after each, they cost an eighth of a boot's work loop): the
    change stands for a few jobs at most, and the warning names the nubs of the jobs since
    the last comparison that ran driver code, the culprit's among them."""
    (package_dir / "window").mkdir()
    (package_dir / "window" / "__init__.py").write_text(WINDOW_SOURCE)
    careless = kext("com.test.window", {"c": personality("Careless", score=9000)},
                    package="window")
    nubs = [wifi_nub(location=str(n)) for n in range(60)]
    nubs = [NubSpec(nub.class_name, name=f"dev{n}", location=nub.location,
                    properties=nub.properties) for n, nub in enumerate(nubs)]
    host = make_host(nubs, [careless]).boot()
    seen = sys.modules["window"].SEEN
    assert len(seen) == 60 and seen[:20] == [False] * 20
    assert 1 <= sum(seen) <= CHECK_EVERY  # the starts after the 20th that ran under it
    assert seen[-1] is False
    (message,) = [str(d) for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert message.startswith("warning[driver-changed-host]: driver code run while the kernel "
                              "matched one of ")
    assert "dev19" in message.split(" changed the warning filters")[0]
