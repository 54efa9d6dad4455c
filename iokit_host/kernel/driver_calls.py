"""Driver calls: the one place that says how the kernel calls into driver code.

A kext runs in the kernel: an exception it does not catch, or a call that never returns, takes
the machine with it. Here every call into code a kext brought (importing its package, its
class's constructor, ``init``, ``probe``, ``start``, ``stop``, ``will_terminate``,
``did_terminate``, ``free``, a notification handler) goes through :meth:`DriverCalls.call`,
which turns whatever goes wrong into a :class:`DriverFault` value, the caller's to report:

- any exception, ``SystemExit`` and other ``BaseException`` subclasses included (a driver's
  ``sys.exit`` is its own failure, not the host's exit); only the user's Ctrl-C travels on,
  so it still stops the command. A ``KeyboardInterrupt`` that cannot be one (the running
  kernel turns SIGINT into a stop request; the watchdog notes each real SIGINT in an armed
  period, :meth:`~iokit_host.kernel.watchdog.Watchdog.user_interrupt`) is the driver's own
  ``raise``, and its fault: it must not stop a kernel other programs use;
- a call the :class:`~iokit_host.kernel.watchdog.Watchdog` abandoned (a fault even when the
  call returned after all: its result is ignored);
- a call that changed the host process (:mod:`.host_fence`): it forked it, or changed the
  interpreter's recursion limit (put back). Its result is ignored too;
- what a call left installed in the interpreter (a trace or profile function, a handler of
  the watchdog's or a timer's signal, :mod:`.interpreter_hooks`): put back before the host runs
  code of its own, with a warning naming the driver; the call's result stands;
- a call nested :data:`MAX_NESTING` driver calls deep is not made: a driver re-entering the
  kernel without end fails there, not with a RecursionError in the host's own code.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from threading import get_ident
from types import MethodType
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from pluggy import HookCaller

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.class_seal import ClassSeal, changed_classes, sdk_seal
from iokit_host.kernel.exit_handlers import hold_driver_exit_handlers
from iokit_host.kernel.fault_timer import hold_fault_timers
from iokit_host.kernel.host_fence import (
    TRIPPED,
    DriverExit,
    DriverMisdeed,
    ForkWatch,
    HostSealedError,
    register_calls,
)
from iokit_host.kernel.interpreter_hooks import HOOKS_HINT, Hooks, handler_of, put_back
from iokit_host.kernel.watchdog import DriverCallTimeout, Watchdog

__all__ = ["MAX_NESTING", "DriverCalls", "DriverFault", "describe_error", "described",
           "service_name"]


@dataclass(frozen=True, slots=True)
class DriverFault:
    """Why a driver call gave no result.

    :param error: what it raised; None when the watchdog abandoned it.
    :param limit_s: the watchdog's limit, when it abandoned the call.
    """

    error: BaseException | None
    limit_s: float | None = None
    #: The error's message, read once inside a guarded call (its ``__str__`` is driver code);
    #: None when it was not read there (a host-made error), or could not be read (then
    #: ``unprintable``, and it is never asked for again).
    text: str | None = None
    unprintable: bool = False

    @property
    def timed_out(self) -> bool:
        return self.error is None

    def reference(self, raised: str) -> str:
        """``raised`` (``driver-start-raised``, ...), ``driver-call-timeout``, or the reference
        of what the call did to the host (``driver-forked``, ``driver-changed-host``,
        ``driver-exited``)."""
        if isinstance(self.error, (DriverMisdeed, DriverExit)):
            return self.error.reference
        if isinstance(self.error, HostSealedError):
            return "driver-changed-host"
        return "driver-call-timeout" if self.timed_out else raised

    def reason(self, call: str) -> str:
        """One line for the outcome table: ``start raised RuntimeError: no firmware``."""
        if self.error is None:
            return f"{call} did not return within {self.limit_s or 0:g} s and was abandoned"
        if isinstance(self.error, (DriverMisdeed, DriverExit)):
            return f"{call} {self.error}"
        if self.unprintable:
            return f"{call} raised {_type_name(self.error)} {_UNPRINTABLE}"
        return f"{call} raised {describe_error(self.error, self.text)}"


class DriverCalls:
    """Guards the driver calls of one kernel; :attr:`watchdog` may be replaced (tests)."""

    def __init__(self, watchdog: Watchdog,
                 report: Callable[[Diagnostic], None] | None = None) -> None:
        self.watchdog = watchdog
        #: What a call left installed and was put back (:meth:`_hooks_changed`) is said here;
        #: kept in :attr:`reported` when no one else is told.
        self.reported: list[Diagnostic] = []
        self.report = report if report is not None else self.reported.append
        register_calls(self)
        hold_driver_exit_handlers(self)
        hold_fault_timers(self)
        self.seal = sdk_seal()
        self.seal.refresh()

    def active(self) -> bool:
        """Whether a driver call is running (on any thread)."""
        return bool(self.watchdog.stack)

    def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``'s result, or a :class:`DriverFault`."""
        # The watchdog's slot is written inline: this runs several times per nub of a boot.
        watchdog = self.watchdog
        stack = watchdog.stack
        if not stack:
            watchdog.owner = get_ident()
        token = next(watchdog.tokens)
        stack.append(token)
        if len(stack) > MAX_NESTING:
            stack.pop()
            return DriverFault(_nested_too_deep())
        if not watchdog.ready:
            watchdog.prepare()
        seal = self.seal
        depth = len(stack)
        if not seal.hot_watch.value:
            _changed_between(seal, depth)
        limit = _recursion_limit()
        trace, profile = _gettrace(), _getprofile()
        usr2, alrm = _handler_of(_USR2), _handler_of(_ALRM)
        vtalrm, prof, pipe = _handler_of(_VTALRM), _handler_of(_PROF), _handler_of(_PIPE)
        try:
            result = function(*args, **kwargs)
            # Still the call's: a profile function it left sees these C calls, and may raise.
            hooked = _gettrace() is not trace or _getprofile() is not profile \
                or _handler_of(_USR2) is not usr2 or _handler_of(_ALRM) is not alrm \
                or _handler_of(_VTALRM) is not vtalrm or _handler_of(_PROF) is not prof \
                or _handler_of(_PIPE) is not pipe
        except BaseException as error:  # noqa: BLE001 - driver code may raise anything
            raised: BaseException | None = error
            hooked = True
        else:
            raised = None
        if hooked:  # put back before the host calls anything a trace function would see
            hooks = (trace, profile, usr2, alrm, vtalrm, prof, pipe)
            slipped: BaseException | None = None
            for _ in _ATTEMPTS:  # a hook that raises is dropped: the next attempt goes on
                try:
                    left = _gettrace(), _getprofile()
                    if left[0] is not trace:
                        _settrace(trace)  # C calls only: a trace function sees none
                    if left[1] is not profile:
                        _setprofile(profile)
                    self._hooks_changed(hooks, left, slipped, function, args, kwargs)
                    break
                except BaseException as error:  # noqa: BLE001 - see above
                    slipped = error
            if raised is None and isinstance(slipped, _INTERRUPTIONS):
                raised = slipped  # the user's Ctrl-C, or the watchdog's: not lost here
        stack.pop()
        if raised is not None:
            misdeed = _misdeed(limit, seal, depth)
            if misdeed is not None:
                return DriverFault(misdeed)
            return self._fault(watchdog, watchdog.fired is not None and watchdog.settle(token),
                               raised)
        if TRIPPED or _recursion_limit() != limit or not seal.hot_watch.value \
                or seal.pending:
            misdeed = _misdeed(limit, seal, depth)
            if misdeed is not None:
                return DriverFault(misdeed)
        if watchdog.fired is not None and watchdog.settle(token):
            return DriverFault(None, watchdog.limit_s)
        return result

    def _hooks_changed(self, hooks: Hooks, left: tuple[Any, Any], slipped: BaseException | None,
                       function: Callable[..., Any], args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> None:
        """Put back what the call installed in the interpreter (:mod:`.interpreter_hooks`;
        ``left``: the trace and profile functions it left, already put back; ``slipped``: what
        one raised in the guard's code); a warning naming its driver."""
        changed = []
        if left[0] is not hooks[0] and not self.watchdog.keeps_trace(left[0], hooks[0]):
            changed.append("set a trace function (sys.settrace)")
        if left[1] is not hooks[1]:
            changed.append("set a profile function (sys.setprofile)")
        if slipped is not None and not isinstance(slipped, _INTERRUPTIONS):
            changed.append(f"set a trace or profile function that raised {_type_name(slipped)}"
                           " in the host's code (the interpreter dropped it)")
        changed.extend(put_back(hooks))
        if not changed:
            return
        entry = _entry_of(function, args, kwargs)
        who = f"driver code called for {described(entry)}" if entry is not None \
            else "a driver call"
        self.report(Diagnostic(
            "driver-changed-host", f"{who} {', '.join(changed)}; put back",
            subject=entry.iokit_class_name if entry is not None else None,
            hint=HOOKS_HINT, severity=Severity.WARNING))

    def call_discarding(self, function: Callable[..., Any], /, *args: Any,
                        **kwargs: Any) -> DriverFault | None:
        """:meth:`call` of driver code whose result the host has no use for (a ``stop``, a
        notification handler, an exit handler): the result is dropped inside the call, so
        what dropping it runs (an object's ``__del__`` that sleeps or raises) is the
        driver's call, under the watchdog's limit. None, or the :class:`DriverFault`."""
        fault = self.call(_discarded, function, *args, **kwargs)
        return fault if isinstance(fault, DriverFault) else None

    def call_hook(self, hook: HookCaller, kwargs: dict[str, Any]) -> Any:
        """:meth:`call` of ``hook(**kwargs)`` for a hook call that gives every argument of
        the spec (the kernel's own calls on a hot path: a user client's method). pluggy's
        call checks the arguments against the spec and fills in defaults each time; here the
        manager's hook execution runs directly, so plugins, wrappers and hook-call monitors
        see the call exactly as any other."""
        spec = hook.spec
        firstresult = bool(spec.opts.get("firstresult", False)) if spec is not None else False
        return self.call(hook._hookexec, hook.name, hook._hookimpls.copy(), kwargs, firstresult)

    def _fault(self, watchdog: Watchdog, abandoned: bool, error: BaseException) -> DriverFault:
        if _is_interrupt(error) and watchdog.user_interrupt():
            raise error
        if abandoned or (isinstance(error, DriverCallTimeout) and watchdog.outer_abandoned()):
            # An interruption meant for an enclosing call that reached this one stops here,
            # never crossing the host's code in between; the enclosing call is abandoned when
            # it returns, or interrupted again in its own code.
            return DriverFault(None, watchdog.limit_s)
        # Its message is driver code too (an __str__ that hangs, or exits): read it now, as a
        # driver call of its own, bounded by the watchdog.
        text = self.call(error_message, error)
        if type(text) is str:
            return DriverFault(error, text=text)
        return DriverFault(error, unprintable=True)


def _discarded(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Call ``function`` and drop its result here, inside the guarded call."""
    function(*args, **kwargs)


_recursion_limit = sys.getrecursionlimit
_gettrace, _settrace, _getprofile, _setprofile = \
    sys.gettrace, sys.settrace, sys.getprofile, sys.setprofile
_handler_of = handler_of
_USR2, _ALRM, _VTALRM, _PROF = signal.SIGUSR2, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF
_PIPE = signal.SIGPIPE
#: How often the hooks a call left are put back: each trace or profile function that raises
#: there is dropped by the interpreter, so the third attempt meets neither.
_ATTEMPTS = (1, 2, 3)
#: What may reach the guard's own code and is no hook's doing.
_INTERRUPTIONS = (KeyboardInterrupt, DriverCallTimeout)


def _entry_of(function: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> IORegistryEntry | None:
    """The driver a call was made for: a hook's ``service``, a bound method's object, or a
    handler's first argument."""
    if function is _discarded and args:  # call_discarding: the driver's function is first
        function, args = args[0], args[1:]
    elif _is_hook_exec(function, args):  # call_hook: the hook's arguments come third
        kwargs = args[2]
    candidates = (kwargs.get("service"), getattr(function, "__self__", None) if
                  isinstance(function, MethodType) else None, args[0] if args else None)
    return next((c for c in candidates if isinstance(c, IORegistryEntry)), None)
def _is_hook_exec(function: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """Whether a guarded call is :meth:`DriverCalls.call_hook`'s: a plugin manager's hook
    execution, given the hook's name, implementations, arguments and ``firstresult``."""
    return isinstance(function, MethodType) and function.__name__ == "_hookexec" \
        and len(args) == 4 and type(args[2]) is dict


#: Driver calls inside driver calls (a handler that installs a notification, whose delivery
#: calls a handler ...): past this depth the next is refused, so a driver re-entering the
#: kernel without end fails in its own call, with the interpreter's stack to spare, instead of
#: a RecursionError landing in the host's code (a termination cut short, busy counts left up).
#: Each level costs the stack some 10-25 frames of host and driver code.
MAX_NESTING = 32


def _nested_too_deep() -> DriverMisdeed:
    return DriverMisdeed("driver-calls-nested", f"was refused: driver calls were nested "
                         f"{MAX_NESTING} deep, a driver re-entering the kernel from its own "
                         "calls without end (a handler that installs a notification or "
                         "terminates a service each time it is called)")


def _changed_between(seal: ClassSeal, depth: int) -> None:
    """The SDK's service classes changed since the last driver call ended: by the host (no
    driver call running: the new state is the sealed one), or by the driver whose call this
    one is nested in (put back, and that call's fault when it ends)."""
    if depth == 1:
        seal.refresh()
        return
    changes = seal.repair()
    if changes:
        seal.pending.append((depth - 1, changes))


def _misdeed(limit: int, seal: ClassSeal, depth: int) -> DriverMisdeed | None:
    """What the call that just ended did to the host process, put right where it can be."""
    if TRIPPED:
        return ForkWatch.settle()
    patched = _patched(seal, depth)
    if patched is not None:
        return patched
    changed = _recursion_limit()
    if changed == limit:
        return None
    sys.setrecursionlimit(limit)
    return DriverMisdeed("driver-changed-host", f"changed the interpreter's recursion limit "
                         f"from {limit} to {changed}, which the host and every driver share "
                         "(put back)")


def _patched(seal: ClassSeal, depth: int) -> DriverMisdeed | None:
    """The SDK classes the call at ``depth`` changed (put back), as its fault."""
    changes = [] if seal.hot_intact() else seal.repair()
    while seal.pending and seal.pending[-1][0] >= depth:
        changes.extend(seal.pending.pop()[1])
    return patched_misdeed(changes) if changes else None


def patched_misdeed(changes: list[str]) -> DriverMisdeed:
    """The fault of driver code that changed the SDK's classes (each change put back)."""
    return DriverMisdeed("driver-changed-host", f"{changed_classes(changes)} (put back)")


def _is_interrupt(error: BaseException) -> bool:
    """Ctrl-C, alone or inside an exception group."""
    if isinstance(error, KeyboardInterrupt):
        return True
    return isinstance(error, BaseExceptionGroup) and error.subgroup(KeyboardInterrupt) is not None


def describe_error(error: BaseException, text: str | None = None) -> str:
    """``Type: message``, even for an exception whose ``str`` raises or is huge, or whose
    class's ``__name__`` is a property of its metaclass; ``text``: its message, when it was
    read already (:func:`error_message`)."""
    name = _type_name(error)
    text = text if text is not None else error_message(error)
    if text is None:
        return f"{name} {_UNPRINTABLE}"
    if len(text) > 500:
        text = text[:500] + "..."
    return f"{name}: {text}" if text else name


_UNPRINTABLE = "(its message could not be printed)"
#: ``type.__name__`` itself: reads a class's name where the class cannot intervene.
_TYPE_NAME = type.__dict__["__name__"]


def _type_name(error: BaseException) -> str:
    """The class's own name: a metaclass's ``__name__`` property is driver code."""
    name: str = _TYPE_NAME.__get__(type(error))
    return name


def error_message(error: BaseException) -> str | None:
    """``str(error)`` as a plain ``str`` (a subclass's ``__len__`` or slicing never runs
    later, in the host), or None when it raises or gives something else."""
    try:
        text = str(error)
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - a driver's exception may not even print
        return None
    return str.__str__(text) if issubclass(type(text), str) else None


def described(service: IORegistryEntry) -> str:
    """A driver as a diagnostic names it: its class and name, its kext (the personality's
    ``CFBundleIdentifier`` it was made from) and its provider, read from the registry's own
    tables rather than through the driver's methods: ``Evil 'Evil' (com.example.evil) on
    SMC``."""
    text = f"{service.iokit_class_name} {service_name(service)!r}"
    try:  # the entry's own slots, past any attribute hook of the driver's class
        props = object.__getattribute__(service, "_props")
        parents = object.__getattribute__(service, "_parents")
    except AttributeError:  # an entry its class never initialised
        return text
    bundle = props.get("CFBundleIdentifier") if type(props) is dict else None
    if type(bundle) is str:
        text += f" ({bundle[:120]})"
    providers = parents.get("IOService") if type(parents) is dict else None
    if type(providers) is list and providers:
        text += f" on {service_name(providers[0])}"
    return text


def service_name(service: IORegistryEntry) -> str:
    """``service``'s name for a diagnostic; its class name when a driver's ``get_name``
    override fails."""
    try:
        name = service.get_name()
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - an override of get_name is driver code
        return service.iokit_class_name
    return name if isinstance(name, str) else service.iokit_class_name
