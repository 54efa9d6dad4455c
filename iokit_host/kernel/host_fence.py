"""The host fence: what a kext's code may not change in the process it shares with the kernel.

A kext runs in the kernel's address space; IOKit has no process to fork, no interpreter limits
and no shared module namespace a driver could rebind. Here a driver is Python code in the host's
process, so a driver call could change what every later call and the host itself rely on. The
guard of :mod:`.driver_calls` asks this module, for each call, about what is cheap to watch and
refuses the rest outright:

- ``os.fork()`` inside a driver call: the child is a copy of the whole host and would go on to
  run the rest of the boot (printing the registry twice, stopping driver processes it shares
  with its parent). Fork handlers (``os.register_at_fork``) notice it: the child leaves as soon
  as the driver's code returns into the host's (and dies with its parent if it never does:
  ``PR_SET_PDEATHSIG``); the parent stops and reaps it, and the call is the driver's fault,
  ``driver-forked``. (``subprocess`` spawns without Python's fork handlers and stays allowed.)
- ``os._exit()`` inside a driver call, in the host's own process: it would end the kernel and
  every command with the driver's status, and nothing after it would run. It raises
  :class:`DriverExit` where the driver called it instead (a ``BaseException``, as
  ``SystemExit`` is), so the call fails, ``driver-exited``, and the host goes on. A forked
  child, a driver process and the host's own code outside driver calls exit as always;
- the interpreter's recursion limit (``sys.setrecursionlimit``): read before and after each
  call (tens of nanoseconds); a changed limit is put back and the call is the driver's fault,
  ``driver-changed-host``.
- the modules every driver and the host share, ``builtins`` and the SDK's ``iokit_sdk``
  modules: their attributes cannot be rebound or deleted while a driver call runs (the
  driver's assignment raises :class:`HostSealedError`, so the driver's call fails with its
  reason and nothing changed). Adding a new name stays allowed: it changes nothing anyone
  else reads;
- trace and profile functions, some signal handlers and interval timers: read before and after
  each call and put back by the guard itself (:mod:`.interpreter_hooks`);
- the standard streams (fds 0, 1, 2), which a driver may close or redirect: too dear to
  check per call, :class:`~.stdio_guard.StdioGuard` checks them after each work-loop job and kext import,
  puts them back and names the nub or kext whose drivers ran.
  A stream it cannot open again once closed (a test's capture, whose file pytest reads at
  the end) is sealed instead by whoever set it up (:func:`seal_stream_close`): its ``close``
  raises :class:`HostSealedError` while a driver call runs.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar, NoReturn, Protocol

from iokit_host.dext.descendants import children

__all__ = ["TRIPPED", "DriverExit", "DriverMisdeed", "ForkWatch", "HostSealedError",
           "ModuleGuard", "register_calls", "seal_shared_modules", "seal_stream_close"]

#: Linux's ``prctl(PR_SET_PDEATHSIG)``: the child gets this signal when its parent exits.
_PR_SET_PDEATHSIG = 1


class _Calls(Protocol):
    """What the fence reads of a :class:`~iokit_host.kernel.driver_calls.DriverCalls`."""

    def active(self) -> bool: ...


class DriverMisdeed(Exception):
    """A driver call that returned, but changed the host process: the call's fault.

    :param reference: the diagnostic's reference (``driver-forked``, ``driver-changed-host``).
    """

    def __init__(self, reference: str, what: str) -> None:
        super().__init__(what)
        self.reference = reference


class HostSealedError(AttributeError):
    """A driver tried to rebind or delete an attribute of a module every driver shares."""


class DriverExit(BaseException):
    """A driver called ``os._exit(status)`` in the host's process: raised there instead."""

    reference = "driver-exited"

    def __init__(self, status: object) -> None:
        # Not the status's repr: a driver's object runs its own code there (raise, hang, 1 MB).
        shown = status if type(status) is int and status.bit_length() <= 64 \
            else f"<{type(status).__name__}>"
        super().__init__(f"called os._exit({shown}), which would have ended the kernel's "
                         "process and every driver in it: a kext runs in the kernel and may "
                         "not exit it; fail the call instead (raise, or return False from "
                         "start), or make the driver a dext")
        self.status = status


# -- which guards have a driver call running ---------------------------------------------------
_CALLS: weakref.WeakSet[Any] = weakref.WeakSet()


def register_calls(calls: _Calls) -> None:
    """Count ``calls``'s running driver calls as driver code running (for the fork handlers
    and the sealed modules); the first registration installs both."""
    _CALLS.add(calls)
    _install_fork_handlers()
    _install_exit_guard()
    seal_shared_modules()


def _driver_code_running() -> bool:
    return any(calls.active() for calls in list(_CALLS))


# -- fork ---------------------------------------------------------------------------------------
#: Not empty while a fork made during a driver call is not settled: the guard's one test per
#: call (a list, mutated in place, so the guard's binding of it stays the same object).
TRIPPED: list[bool] = []


class ForkWatch:
    """The forks made while a driver call ran, as the fork handlers saw them (per process)."""

    #: Set in a child forked during a driver call: it must never run the host's code.
    in_child: ClassVar[bool] = False
    #: The parent's side: ``(thread id, child pids)`` of each fork not yet settled.
    forks: ClassVar[list[tuple[int, list[int]]]] = []
    _before: ClassVar[list[set[int]]] = []

    @classmethod
    def settle(cls) -> DriverMisdeed | None:
        """Called by the guard when a call ends and :attr:`forks` or :attr:`in_child` is set:
        in a forked child, leave at once; in the parent, stop and reap the child, and say why
        the call failed."""
        if cls.in_child:
            _real_exit(0)  # a copy of the host: its flushes, atexit handlers and output are not its own
        forks, cls.forks = cls.forks, []
        TRIPPED.clear()
        pids = [pid for _, children in forks for pid in children]
        for pid in pids:
            _stop_child(pid)
        which = f" (child pid {', '.join(map(str, pids))}, stopped)" if pids else ""
        return DriverMisdeed("driver-forked", f"forked the host process{which}; a kext runs "
                             "in the kernel and may not fork it: spawn a helper with "
                             "subprocess, or make the driver a dext")


def _stop_child(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):  # gone already, or reaped by the driver
        pass


def _children() -> set[int]:
    """This process's children, all threads' (Linux ``/proc``); empty elsewhere."""
    return set(children(os.getpid()))


def _before_fork() -> None:
    ForkWatch._before.append(_children() if _driver_code_running() else set())


def _after_fork_in_parent() -> None:
    before = ForkWatch._before.pop() if ForkWatch._before else set()
    if _driver_code_running():
        ForkWatch.forks.append((threading.get_ident(), sorted(_children() - before)))
        TRIPPED.append(True)


def _after_fork_in_child() -> None:
    ForkWatch._before.clear()
    if not _driver_code_running():
        return
    ForkWatch.in_child = True
    TRIPPED.append(True)
    try:  # a child that loops in the driver's code for ever goes with its parent
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's SIGKILL still stops it
        pass


_installed = False


def _install_fork_handlers() -> None:
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
    _installed = True


# -- os._exit -----------------------------------------------------------------------------------
_real_exit = os._exit
#: The process whose driver calls are guarded (a child forked later exits as it asks).
_host_pid: list[int] = []


def _guarded_exit(status: int) -> NoReturn:
    """``os._exit``: refused (:class:`DriverExit`) while a driver call runs in the host's own
    process, as it is; elsewhere the real one."""
    if _host_pid and os.getpid() == _host_pid[0] and not ForkWatch.in_child \
            and _driver_code_running():
        raise DriverExit(status)
    _real_exit(status)


def _install_exit_guard() -> None:
    if _host_pid:
        return
    _host_pid.append(os.getpid())
    os._exit = _guarded_exit  # (the same function as posix._exit, which a driver may name)
    posix = sys.modules.get("posix")
    if posix is not None:
        setattr(posix, "_exit", _guarded_exit)  # noqa: B010 - not in every platform's stubs


# -- the shared modules -------------------------------------------------------------------------
_MISSING = object()


class _SealedModule(ModuleType):
    """A module whose attributes a running driver call cannot rebind or delete."""

    def __setattr__(self, name: str, value: Any) -> None:
        # A new name harms no one (the import system adds a package's submodules this way);
        # rebinding one that is there changes what the host and the other drivers call.
        current = self.__dict__.get(name, _MISSING)
        if current is not _MISSING and current is not value and _driver_code_running():
            raise _sealed(self, name, "replace")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__ and _driver_code_running():
            raise _sealed(self, name, "delete")
        super().__delattr__(name)


def _sealed(module: ModuleType, name: str, verb: str) -> HostSealedError:
    return HostSealedError(f"a driver may not {verb} {module.__name__}.{name}: the host and "
                           "every other driver share that module")


def seal_shared_modules() -> None:
    """Seal ``builtins`` and every ``iokit_sdk`` module loaded so far (idempotent)."""
    for name, module in list(sys.modules.items()):
        if (name == "builtins" or name == "iokit_sdk" or name.startswith("iokit_sdk.")) \
                and type(module) is ModuleType:
            module.__class__ = _SealedModule
    if type(builtins) is ModuleType:  # not in sys.modules under its name (embedded use)
        builtins.__class__ = _SealedModule


# -- the shared modules' entries in sys.modules ---------------------------------------------------
#: Looked at after every work-loop job (a lookup each): a driver that deletes the SDK from
#: ``sys.modules`` deletes its package and the modules its classes come from.
_CORE_MODULES = ("iokit_sdk", "iokit_sdk.service", "iokit_sdk.entry", "iokit_sdk.userclient")


class ModuleGuard:
    """The SDK's and the host's entries in ``sys.modules`` as they were when it was made: a
    driver that deletes or replaces one (``del sys.modules["iokit_sdk"]``) has it put back.
    Left out, the next kext to import the SDK got a second copy of it, whose ``IOService`` is
    not the kernel's: its classes were refused as unknown, and the culprit never named.
    :meth:`check` looks at a few core modules (after each work-loop job) and, when one is off
    or ``full`` is asked (after each kext import), at every one."""

    def __init__(self) -> None:
        self._kept = {name: module for name, module in list(sys.modules.items())
                      if name.partition(".")[0] in ("iokit_sdk", "iokit_host")}
        self._core = [(name, self._kept[name]) for name in _CORE_MODULES if name in self._kept]

    def check(self, *, full: bool = False) -> list[str]:
        """The entries found deleted or replaced since, each put back."""
        modules = sys.modules
        if not full and self._core_intact(modules):
            return []
        changed = [name for name, module in self._kept.items() if modules.get(name) is not module]
        for name in changed:
            modules[name] = self._kept[name]
        return changed

    def _core_intact(self, modules: dict[str, ModuleType]) -> bool:
        for name, module in self._core:  # a loop, not all(): read after every work-loop job
            if modules.get(name) is not module:
                return False
        return True


# -- streams that cannot be reopened --------------------------------------------------------------
def seal_stream_close(stream: Any, name: str) -> Callable[[], None] | None:
    """Make ``stream.close()`` raise :class:`HostSealedError` while a driver call runs (a
    driver's ``sys.stdout.close()``), for a stream that could not be opened again once closed:
    a test's capture, which pytest reads after the test (closed, it ended the whole run with a
    traceback). Outside driver calls it closes as always.

    :param name: the stream's name in ``sys`` (``stdout``), for the driver's error.
    :returns: the undo (the stream's own ``close`` again), or None for a stream that takes no
        attribute of its own.
    """
    close = stream.close

    def guarded_close() -> None:
        if _driver_code_running():
            raise HostSealedError(f"a driver may not close sys.{name}: the host's output and "
                                  "every test's go through it")
        close()

    try:
        stream.close = guarded_close
    except (AttributeError, TypeError):
        return None

    def undo() -> None:
        if getattr(stream, "__dict__", {}).get("close") is guarded_close:
            del stream.close

    return undo
