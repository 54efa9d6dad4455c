"""The driver-call watchdog: a driver call still running after a limit is abandoned.

A kext runs in the kernel, and one that never returns from ``start`` hangs its config thread
for good; IOKit only logs a slow start (``kIOLogStart``, over 500 ms). Its answer to code that
must not hang the system is to move it out of the kernel (DriverKit: a dext that stops answering
is killed). Here a driver is Python code in the host's process, so the host watches each call
itself: one :class:`Watchdog` per kernel, and one thread per watchdog that exists only while
driver calls are being made.

The hot path stays cheap (a boot makes about seven driver calls per nub): the calling thread
writes the watchdog's slot, :attr:`Watchdog.stack`, pushing a token when a call begins and
popping it when the call ends (:class:`~iokit_host.kernel.driver_calls.DriverCalls` does it
inline); no clock is read, no lock taken, no system call made. The thread wakes every
:attr:`Watchdog.tick_s` (an eighth of the limit, at most 1 s), notes the tokens it sees for the
first time, and when one has been on the stack for the limit (the innermost such: the calls
around it wait for it) it interrupts the calling thread:

- the main thread, inside :meth:`Watchdog.armed` periods (the kernel's work loop), with a
  signal (``SIGUSR2``) whose handler raises :class:`DriverCallTimeout`: a signal also breaks
  a blocking ``time.sleep`` or ``select``. The previous handler is restored when the period
  ends and receives every ``SIGUSR2`` the watchdog did not send (but one that comes while an
  abandoned call is being interrupted, which cannot be told from the watchdog's own second
  signal of a tick: two that the system did not merge). A signal that finds the
  host's code running (the driver called it) leaves it alone and marks the driver's frame
  nearest it with a trace function, which raises when the driver's code resumes there, on
  the next line it runs. (It once signalled itself to look again, which ran the handler
  inside itself, nested, once per look, until RecursionError broke the host's code;
  signalling again from the thread is no better: a hung driver that keeps calling the host
  is signalled in the host's code each time, locked in step with it.) A driver that took
  ``SIGUSR2`` for a handler of its own gets the asynchronous exception below instead, and the
  signal as well to break a blocking call: its handler is driver code, where the exception
  lands at the first bytecode (the driver call's guard puts the watchdog's handler back);
- any other thread, or the main thread outside an armed period, with an asynchronous
  exception (``PyThreadState_SetAsyncExc``), which arrives at the thread's next bytecode
  (not inside a blocking call). Where it lands is checked when it is sent, not when it
  arrives, so this path is best effort: in a rare race it may land in the host's code.

:class:`DriverCallTimeout` is a ``BaseException``, so a driver's ``except Exception`` does not
swallow it. It is raised only in the abandoned call's own code: not in a call it made into
another driver (that one has its own limit), not in the host's code nor in the standard
library's locking and importing (an exception there could leave a registry half-changed or a
lock held); there it is raised when the call's own code resumes. The exception: host code
that only waits for the abandoned call's answer and gives up cleanly when cut short (a dext
call blocked on its process's channel, which kills the process that owes the reply) names
those functions in its module's ``DRIVER_WAITS``; a call abandoned there ends at once rather
than when the process answers. A call that swallows it is interrupted again at every tick, and whatever it returns afterwards is ignored: the call was
abandoned. What no in-process watchdog can stop (``os.kill`` of its own process, a C
extension that never returns, a bare ``except:`` around a loop) is listed in
docs/lifecycle.md, with the driver processes that can.

Time is a :class:`WatchdogClock`: :class:`RealTime` by default, :class:`DrivenTime` in tests,
whose :meth:`~DrivenTime.advance` wakes the watchdog, so a test's hanging driver is abandoned
without the test sleeping.
"""

from __future__ import annotations

import ctypes
import faulthandler
import itertools
import math
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_frames import (
    driver_frame,
    interruptible,
    trace_no_calls,
    waits_for_driver,
)
from iokit_host.kernel.interpreter_hooks import handler_of as _handler_of
from iokit_host.kernel.watchdog_clock import DrivenTime, RealTime, WatchdogClock
from iokit_host.settings import MAX_SECONDS, env_seconds

__all__ = ["DEFAULT_LIMIT_S", "TIMEOUT_ENV", "DrivenTime", "DriverCallTimeout", "RealTime",
           "Watchdog", "WatchdogClock"]

DEFAULT_LIMIT_S = 10.0
TIMEOUT_ENV = "IOKIT_DRIVER_TIMEOUT"
#: The signal that interrupts the main thread; its previous handler gets every other one.
WATCHDOG_SIGNAL = signal.SIGUSR2


class DriverCallTimeout(BaseException):
    """Raised inside a driver call the watchdog abandoned (not an ``Exception``, so a driver's
    ``except Exception`` lets it through)."""


class Watchdog:
    """Watches the driver calls of one kernel (see the module docstring).

    :param limit_s: seconds a call may run; None turns watching off (calls are still
        guarded against exceptions).
    :param clock: where time comes from; :class:`RealTime` when None.
    """

    def __init__(self, limit_s: float | None = DEFAULT_LIMIT_S, *,
                 clock: WatchdogClock | None = None) -> None:
        self.limit_s = limit_s
        self.clock: WatchdogClock = clock if clock is not None else RealTime()
        self.tick_s = 1.0 if limit_s is None else min(1.0, max(limit_s / 8, 0.001))
        #: How many times a call was interrupted (a call that swallows it is counted again).
        self.interruptions = 0
        # The slot the calling thread writes (see DriverCalls.call, which inlines it):
        #: tokens of the calls in progress, outermost first;
        self.stack: list[int] = []
        #: where tokens come from;
        self.tokens = itertools.count(1)
        #: the thread making the calls (set when the outermost call begins);
        self.owner = 0
        #: the token of the call the watchdog abandoned, until that call settles;
        self.fired: int | None = None
        #: False when :meth:`prepare` must run before the next call (start the thread, arm
        #: the main thread).
        self.ready = limit_s is None
        self._lock = threading.Lock()
        self._condition = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._closed = False
        self._arming = 0
        self._previous: Any = None
        self._installed = False
        self._signal_sent = False
        self._handling = False  # _on_signal is running (it does not nest)
        self._handler = self._on_signal  # one bound method: installed, and compared with is
        # The driver frame traced to raise when it resumes; whether the thread's trace was
        # changed for it, and what it was before.
        self._traced: FrameType | None = None
        self._tracing = False
        self._trace_before: Any = None
        self._async_sent = False  # an asynchronous exception went to the calling thread
        self._sigint_noted = False  # our SIGINT handler is in place (see user_interrupt)
        self._sigint_seen = False

    @classmethod
    def from_env(cls) -> tuple[Watchdog, Diagnostic | None]:
        """A watchdog with the limit of ``IOKIT_DRIVER_TIMEOUT`` (seconds; 0 turns it off),
        and a warning when that value cannot be used."""
        try:
            limit = env_seconds(TIMEOUT_ENV, DEFAULT_LIMIT_S)
        except ValueError as error:
            return cls(DEFAULT_LIMIT_S), Diagnostic(
                "driver-timeout-invalid", f"{error}; using {DEFAULT_LIMIT_S:g} s",
                key=TIMEOUT_ENV, severity=Severity.WARNING,
                hint="give the limit in seconds (10, 0.5); 0 turns the watchdog off")
        return cls(None if limit == 0 or limit >= MAX_SECONDS else limit), None

    # -- the calling thread, after a call popped its token ---------------------------------
    def settle(self, token: int) -> bool:
        """Called when :attr:`fired` is set: True when the call of ``token`` (just popped) was
        abandoned; withdraws an interruption not yet delivered."""
        with self._lock:
            fired = self.fired
            if fired == token or (fired is not None and fired not in self.stack):
                self.fired = None
                if self._async_sent:  # not delivered, or its call would not have returned
                    self._async_sent = False
                    _cancel_async(self.owner)
                self._untrace()
            return fired == token

    def user_interrupt(self) -> bool:
        """Whether a ``KeyboardInterrupt`` that ended a driver call may be the user's Ctrl-C
        rather than the driver's own ``raise``: only Python's default SIGINT handler turns a
        SIGINT into one (``iokit kernel`` installs its own, which asks for a stop), and in an
        armed period the handler put in its place notes each SIGINT that really came."""
        handler = signal.getsignal(signal.SIGINT)
        if self._sigint_noted and handler == self._on_sigint:
            return self._sigint_seen
        return handler is signal.default_int_handler

    def outer_abandoned(self) -> bool:
        """True when a call enclosing the current one was abandoned: a
        :class:`DriverCallTimeout` caught after the current call settled belongs to it."""
        fired = self.fired
        return fired is not None and fired in self.stack

    # -- arming the main thread --------------------------------------------------------------
    @contextmanager
    def armed(self) -> Iterator[None]:
        """A period in which the main thread is interrupted with a signal (which breaks a
        blocking sleep) rather than an asynchronous exception; the previous handler is back
        when the outermost period ends. Elsewhere than in the main thread, nothing changes."""
        self._arming += 1
        if self._arming == 1 and self.limit_s is not None:
            self.ready = False  # the next call installs the handler
        try:
            yield
        finally:
            self._arming -= 1
            if not self._arming:
                self._disarm()

    def close(self) -> None:
        """Stop the thread and restore the signal handler (the watchdog still guards calls)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._disarm()

    # -- slow paths -----------------------------------------------------------------------
    def prepare(self) -> None:
        """Start the thread, and arm the main thread in an armed period (when not
        :attr:`ready`)."""
        with self._lock:
            if self._closed:
                self.ready = True
                return
            if self._thread is None:
                thread = threading.Thread(target=self._watch, name="iokit-watchdog",
                                          daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: this call goes unwatched
                    return
                self._thread = thread
            if self._arming and not self._installed and _on_main_thread():
                self._install()
            self.ready = True

    def _install(self) -> None:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            try:
                signal.signal(signal.SIGINT, self._on_sigint)
                self._sigint_noted, self._sigint_seen = True, False
            except (ValueError, OSError):
                pass
        previous = signal.getsignal(WATCHDOG_SIGNAL)
        if previous is None:  # a handler not set from Python: it could not be restored
            return
        try:
            signal.signal(WATCHDOG_SIGNAL, self._handler)
        except (ValueError, OSError):
            return
        self._previous, self._installed = previous, True

    def _disarm(self) -> None:
        if self._sigint_noted and not self.stack and _on_main_thread():
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self._sigint_noted = False
        if not self._installed or self.stack or not _on_main_thread():
            return
        with self._lock:
            if signal.getsignal(WATCHDOG_SIGNAL) == self._on_signal:
                signal.signal(WATCHDOG_SIGNAL, self._previous)
            self._installed, self._previous = False, None
            self.ready = self.limit_s is None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        """Python's default SIGINT handler, noting that a SIGINT really came."""
        self._sigint_seen = True
        raise KeyboardInterrupt

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._handling:
            # A tick's signal, run at a bytecode boundary of this very handler: the running
            # one decides (nested, one per tick on a loaded machine, they would recurse
            # without bound while the main thread is in host code).
            return
        self._handling = True
        try:
            self._signalled(signum, frame)
        finally:
            self._handling = False

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        """What the handler does."""
        if not self._signal_sent:
            if self.fired is None:
                self._chain(signum, frame)
            # else a late twin of a signal already handled (two ticks' signals that did not
            # merge): the previous handler must not take it for its own (SIG_DFL would end
            # the process).
            return
        self._signal_sent = False
        if not self._in_fired_call():
            return  # the call returned, or a nested call runs: the next tick looks again
        if not (interruptible(frame) or waits_for_driver(frame)):
            self._raise_on_return(frame)
            return
        self._untrace()
        raise DriverCallTimeout(self._message())

    def _message(self) -> str:
        return f"driver call abandoned after {self.limit_s:g} s"

    def _raise_on_return(self, frame: FrameType | None) -> None:
        """The host's code runs for the abandoned call: trace the call's own frame nearest
        it, to raise at the next line it runs, once the host's code has returned to it."""
        target = driver_frame(frame)
        if target is None:
            return  # the guard itself runs: the next tick looks again
        if not self._tracing:
            self._trace_before, self._tracing = sys.gettrace(), True
        if self._traced is not None and self._traced is not target:
            self._traced.f_trace = None
        self._traced = target
        # Line events (a new line, or a loop's jump back) come soon enough.
        target.f_trace = self._on_driver_resumed
        # A frame's own trace runs only while its thread's is on: one that traces no new
        # frame, for the moment the host's code takes.
        sys.settrace(trace_no_calls)

    def _on_driver_resumed(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame is self._traced and self._in_fired_call():
            self._traced, frame.f_trace = None, None
            # CPython turns the thread's trace off when a trace function raises; settle()
            # puts the one from before back when the call ends.
            raise DriverCallTimeout(self._message())
        return self._on_driver_resumed

    def _untrace(self) -> None:
        """Put the thread's trace back as it was before :meth:`_raise_on_return`."""
        traced = self._traced
        if traced is not None:
            self._traced, traced.f_trace = None, None
        if self._tracing:
            before, self._trace_before, self._tracing = self._trace_before, None, False
            sys.settrace(before)

    def keeps_trace(self, left: Any, before: Any) -> bool:
        """Whether ``left``, the trace a driver call ended with, is the watchdog's own
        (:meth:`_raise_on_return`); :meth:`settle` then puts back ``before``, the trace from
        before the call, whatever the call set meanwhile."""
        if not self._tracing or left is not trace_no_calls:
            return False
        self._trace_before = before
        return True

    def _may_raise(self, frame: FrameType | None) -> bool:
        """True when the abandoned call is running its own code in ``frame``: not a call it
        made into another driver (which has its own limit), not code an exception must not
        cut short mid-way (see :mod:`.driver_frames`)."""
        return self._in_fired_call() and interruptible(frame)

    def _in_fired_call(self) -> bool:
        fired, stack = self.fired, self.stack
        return fired is not None and bool(stack) and stack[-1] == fired

    def _chain(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    # -- the watchdog thread --------------------------------------------------------------
    def _watch(self) -> None:
        try:
            self._watch_calls()
        finally:
            with self._lock:
                if self._thread is threading.current_thread():  # closed, or failed
                    self._thread = None
                    self.ready = self.limit_s is None or self._closed

    def _watch_calls(self) -> None:
        first_seen: dict[int, float] = {}
        clock = self.clock
        limit = self.limit_s if self.limit_s is not None else math.inf
        while True:
            with self._condition:
                if self._closed:
                    break
                clock.wait(self._condition, self.tick_s)
                if self._closed:
                    break
            stack = tuple(self.stack)
            if not stack:
                first_seen.clear()
                if self._retire():
                    return
                continue
            now = clock.now()
            first_seen = {token: first_seen.get(token, now) for token in stack}
            # The innermost expired call is the one hanging: the calls around it wait for it.
            expired = next((t for t in reversed(stack) if now - first_seen[t] >= limit), None)
            if expired is not None:
                self._fire(expired)

    def _retire(self) -> bool:
        """Leave the thread when no call is in progress; False when one began meanwhile."""
        with self._lock:
            ready, self.ready = self.ready, False
            if self.stack:
                self.ready = ready
                return False
            self._thread = None
            return True

    def _fire(self, token: int) -> None:
        with self._lock:
            self.fired = token  # before the check: the caller reads it after popping
            if token not in self.stack:
                self.fired = None
                return
            owner = self.owner
            main = owner == threading.main_thread().ident
            handler = _handler_of(WATCHDOG_SIGNAL) if main else None
            if self._installed and main and handler is self._handler:
                self._signal_sent = True
                # A driver's faulthandler.register(SIGUSR2), in this very call, took the
                # signal below Python (no handler read shows it): it would print tracebacks
                # and let the call sleep on. Given back here, when the signal is sent.
                faulthandler.unregister(WATCHDOG_SIGNAL)
                try:
                    signal.pthread_kill(owner, WATCHDOG_SIGNAL)
                except OSError:  # the main thread is gone: the interpreter is exiting
                    return
            elif self._may_raise(sys._current_frames().get(owner)):
                _raise_async(owner)  # delivered at its next bytecode: racy, see the docstring
                self._async_sent = True
                if self._installed and callable(handler):
                    # The driver took the signal: its handler is driver code, and the
                    # exception is raised at its first bytecode (the signal breaks a sleep).
                    _kick(owner)
            else:
                return  # a nested call or the host is running: the next tick tries again
            self.interruptions += 1


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _kick(thread_id: int) -> None:
    """Break the main thread's blocking call (a sleep) with the watchdog's signal, whose
    handler a driver replaced with a Python function of its own."""
    try:
        signal.pthread_kill(thread_id, WATCHDOG_SIGNAL)
    except OSError:  # pragma: no cover - the main thread is gone: the interpreter is exiting
        pass


def _raise_async(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(DriverCallTimeout))


def _cancel_async(thread_id: int) -> None:
    """Withdraw an asynchronous exception not yet delivered (NULL clears it); called on that
    thread."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
    if thread_id == threading.get_ident():
        # CPython (3.11 at least) clears the exception but leaves the interpreter's
        # "pending" flag set: every later bytecode check takes the slow path, and in 3.11,
        # under a trace function (a debugger, coverage, ``_raise_on_return``), a function's
        # first instruction checks again for ever. Only a delivered exception lowers the
        # flag: deliver one here, where it is caught.
        try:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(_FlagLowered))
            while True:  # its next bytecode check delivers it
                _checkpoint()
        except _FlagLowered:
            pass


class _FlagLowered(BaseException):
    """The asynchronous exception that lowers CPython 3.11's pending flag (``_cancel_async``)."""


def _checkpoint() -> None:
    """A function call: its first instruction is a bytecode check."""
