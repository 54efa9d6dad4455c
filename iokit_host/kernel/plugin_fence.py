"""The plugin fence: each host plugin's hook implementation runs fenced off from the call.

pluggy runs a hook call as one loop over its implementations and lets any exception end the
whole call. That is right for the built-in plugin, which calls the driver: a driver's
exception is that driver's failure, and the kernel handles it. A host plugin (a tracer, a
policy) is not part of the call it watches, so its failure must not become the driver's or
the boot's. In IOKit a faulting kext takes the kernel down, and DriverKit's answer is to move
third-party code out of it; the fence is that answer for host plugins:

- a host plugin's implementation that raises an exception or ``SystemExit`` (an ordinary one,
  or a wrapper before or after its one ``yield``), or a wrapper that does not yield exactly
  once, counts as absent from the call: an ordinary implementation gave no result, a
  wrapper passes the inner result or exception through unchanged;
- its plugin is set aside at once, so no later call reaches it, and after the hook call the
  manager is handed the :class:`Breach` to report it and unregister the plugin;
- the built-in plugin's exceptions, and an inner exception a wrapper lets through, travel
  exactly as pluggy lets them; so do other ``BaseException`` subclasses, from
  anyone: they are the host's (``KeyboardInterrupt``: Ctrl-C stops the command; the
  watchdog's ``DriverCallTimeout`` abandons a hung driver call, plugins included).

:meth:`PluginFence.multicall` is pluggy's own loop (``_multicall``: call order,
``firstresult``, new- and old-style wrappers) with the fence at each implementation instead
of a wrapper layer around it, so a host plugin's wrapper costs what pluggy's does and a call
with the built-in plugin alone what a bare pluggy call does (tests/bench/test_hook_bench.py).
It is the manager's ``_inner_hookexec``, which pluggy's ``add_hookcall_monitoring`` wraps,
so a monitor sees every call, fenced or not.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pluggy import HookCallError, HookImpl, Result

__all__ = ["Breach", "PluginFence"]

_Teardown = Generator[None, object, object]
_FENCED = (Exception, SystemExit)


@dataclass(frozen=True)
class Breach:
    """One host plugin's implementation raised in a hook call.

    :param plugin_name: the name the plugin is registered under.
    :param hook_name: the hook being called.
    :param phase: where it raised: ``call``, ``before yield``, ``after yield``, ``did not
        yield`` or ``yielded twice`` (the last two are wrappers breaking pluggy's protocol).
    :param error: what it raised.
    """

    plugin_name: str
    plugin: object
    hook_name: str
    phase: str
    error: BaseException


class PluginFence:
    """Runs hook calls with every implementation but ``protected``'s fenced off.

    :param protected: the built-in plugin's name; its exceptions are the call's.
    :param settle: receives the breaches of a hook call once that call is over.
    """

    def __init__(self, protected: str, settle: Callable[[list[Breach]], None]) -> None:
        self.protected = protected
        #: names of plugins set aside: no call reaches them any more.
        self.aside: set[str] = set()
        self._settle = settle
        self._breaches: list[Breach] = []

    def multicall(self, hook_name: str, hook_impls: Sequence[HookImpl],
                  caller_kwargs: Mapping[str, object], firstresult: bool) -> object:
        """pluggy's ``_multicall`` with each host plugin's implementation fenced."""
        if len(hook_impls) == 1 and hook_impls[0].plugin_name == self.protected:
            only = hook_impls[0]
            if not (only.wrapper or only.hookwrapper or only.kwargnames):
                # The built-in plugin alone (most calls): what pluggy's loop does for one
                # plain implementation, without the loop; its exceptions are the call's.
                try:  # map, not a comprehension: no Python call of its own (3.11)
                    values = tuple(map(caller_kwargs.__getitem__, only.argnames))
                except KeyError as error:
                    raise HookCallError(
                        f"hook call must provide argument {error.args[0]!r}") from error
                outcome = only.function(*values)
                if firstresult:
                    return outcome
                return [outcome] if outcome is not None else []
        results: list[object] = []
        exception: BaseException | None = None
        teardowns: list[tuple[_Teardown, HookImpl]] = []
        res: Any  # a result, or a wrapper's generator
        aside = self.aside
        try:
            for impl in reversed(hook_impls):
                if aside and impl.plugin_name in aside:
                    continue
                try:
                    args = [caller_kwargs[name] for name in impl.argnames]
                except KeyError as error:
                    raise HookCallError(
                        f"hook call must provide argument {error.args[0]!r}") from error
                kwargs = _keywords(impl, caller_kwargs) if impl.kwargnames else None
                try:
                    res = impl.function(*args) if kwargs is None else impl.function(
                        *args, **kwargs)
                    if impl.wrapper or impl.hookwrapper:
                        next(res)  # run the wrapper up to its yield
                        teardowns.append((res, impl))
                        continue
                except BaseException as error:
                    if not self._fenced(impl, error):
                        raise
                    self._breach(hook_name, impl, error, _entry_phase(impl, error))
                    continue
                if res is not None:
                    results.append(res)
                    if firstresult:
                        break
        except BaseException as error:  # noqa: BLE001 - the call's outcome: the wrappers see it
            exception = error
        result: object = (results[0] if results else None) if firstresult else results
        for teardown, impl in reversed(teardowns):  # resume the wrappers, innermost first
            try:
                if aside and impl.plugin_name in aside:
                    _close_quietly(teardown)  # set aside during this call: not resumed
                    continue
                if impl.hookwrapper:
                    result, exception = _resume_old_style(teardown, result, exception)
                    continue
                if exception is None:
                    teardown.send(result)
                elif _throw(teardown, exception):
                    continue
                raise _SecondYield
            except StopIteration as stop:
                result, exception = stop.value, None
            except BaseException as error:  # noqa: BLE001 - sorted below: fenced or the call's
                if error is exception:  # the inner exception, passed through by the wrapper
                    continue
                if not self._fenced(impl, error):
                    exception = error  # pluggy: a teardown's exception replaces the outcome
                    continue
                # Fenced: the outcome stays what it was before this wrapper resumed.
                self._breach(hook_name, impl, error, _exit_phase(error))
                _close_quietly(teardown)
        if self._breaches:
            breaches, self._breaches = self._breaches, []
            self._settle(breaches)
        if exception is not None:
            raise exception
        return result

    def _fenced(self, impl: HookImpl, error: BaseException) -> bool:
        """A host plugin's exception or ``SystemExit`` is fenced; the built-in plugin's are
        the call's, and other ``BaseException`` subclasses (Ctrl-C, the watchdog's
        interruption of a hung call) are the host's."""
        return impl.plugin_name != self.protected and isinstance(error, _FENCED)

    def _breach(self, hook_name: str, impl: HookImpl, error: BaseException, phase: str) -> None:
        if impl.plugin_name in self.aside:
            return  # reported already: what it raises while being closed adds nothing
        self.aside.add(impl.plugin_name)
        self._breaches.append(Breach(impl.plugin_name, impl.plugin, hook_name, phase, error))


class _SecondYield(RuntimeError):
    """A wrapper that yielded twice (pluggy raises RuntimeError for it)."""


def _keywords(impl: HookImpl, caller_kwargs: Mapping[str, object]) -> dict[str, object] | None:
    kwargs = {name: caller_kwargs[name] for name in impl.kwargnames if name in caller_kwargs}
    return kwargs or None


def _throw(teardown: _Teardown, exception: BaseException) -> bool:
    """Throw the inner exception into a wrapper; True when the wrapper is done with it."""
    try:
        teardown.throw(exception)
    except RuntimeError as error:
        # A StopIteration thrown into a generator comes back as RuntimeError (PEP 479);
        # pluggy then lets the StopIteration itself go on (pluggy #544).
        if isinstance(exception, StopIteration) and error.__cause__ is exception:
            teardown.close()
            return True
        raise
    return False


def _resume_old_style(teardown: _Teardown, result: object, exception: BaseException | None,
                      ) -> tuple[object, BaseException | None]:
    """``hookwrapper=True``: the wrapper gets a :class:`pluggy.Result` it may change."""
    outcome: Result[object] = Result(None if exception is not None else result, exception)
    try:
        teardown.send(outcome)
    except StopIteration:
        if outcome.exception is not None:
            return None, outcome.exception
        return outcome.get_result(), None
    raise _SecondYield


def _close_quietly(teardown: _Teardown) -> None:
    """Close a set-aside plugin's wrapper; what it raises then is not heard (as in _fenced)."""
    try:
        teardown.close()
    except _FENCED:
        pass  # the plugin is set aside and reported already


def _entry_phase(impl: HookImpl, error: BaseException) -> str:
    if not (impl.wrapper or impl.hookwrapper):
        return "call"
    # A generator that returns before its yield ends next() with StopIteration; one raised
    # inside it would have become RuntimeError (PEP 479).
    return "did not yield" if isinstance(error, StopIteration) else "before yield"


def _exit_phase(error: BaseException) -> str:
    return "yielded twice" if isinstance(error, _SecondYield) else "after yield"
