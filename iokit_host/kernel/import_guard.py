"""The import system a kext shares with the kernel: finders and path hooks it adds are
guarded, and those it removes put back.

A kext is linked once, by the kernel's linker, and cannot change how the kernel loads the next
one. Here a kext is a Python package in the host's process, and its module code may add an
import finder to ``sys.meta_path`` (or a hook to ``sys.path_hooks``) that every later import,
the host's included, goes through: one that raises would turn each later import of the host
into an internal error, naming no kext. So after each kext import and work-loop job (where
the other shared state is looked at, :mod:`.job_checks`), a finder or hook a driver added is
replaced by a guard of it: it still finds what it finds, but whatever it raises counts as
"not found" (a finder's ``None``, a hook's ``ImportError``), said once as a warning naming
it, and it is not asked again. A finder or hook of the host's that a driver removed is put
back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from importlib.util import spec_from_loader
from operator import is_
from types import FunctionType, MethodType
from typing import Any

from iokit_host.errors import Diagnostic, Severity

__all__ = ["REMOVED_HINT", "ImportGuard"]

#: The hint of a report that a kext removed the host's finder or hook (put back).
REMOVED_HINT = ("a kext shares the kernel's import system: it may add a finder, never remove "
                "the host's")

Report = Callable[[Diagnostic], None]


class ImportGuard:
    """``sys.meta_path`` and ``sys.path_hooks`` as they were when it was made; :meth:`check`
    guards what was added since and puts back what was removed."""

    def __init__(self) -> None:
        self._finders = list(sys.meta_path)
        self._hooks = list(sys.path_hooks)

    def changed(self) -> bool:
        """Whether a finder or hook was added or removed since (two identity scans)."""
        return not (_same(sys.meta_path, self._finders) and _same(sys.path_hooks, self._hooks))

    def check(self, where: str, report: Report) -> list[str]:
        """Guard the finders and hooks added since (``where`` names the kext or job for their
        warnings); the host's own that were removed, put back and named."""
        if not self.changed():
            return []
        restored = _restore(sys.meta_path, self._finders, "import finder")
        restored += _restore(sys.path_hooks, self._hooks, "path hook")
        for index, finder in enumerate(sys.meta_path):
            if not any(finder is kept for kept in self._finders) \
                    and type(finder) is not _GuardedFinder:
                sys.meta_path[index] = _GuardedFinder(finder, where, report)
        for index, hook in enumerate(sys.path_hooks):
            if not any(hook is kept for kept in self._hooks) and type(hook) is not _GuardedHook:
                sys.path_hooks[index] = _GuardedHook(hook, where, report)
        self._finders = list(sys.meta_path)
        self._hooks = list(sys.path_hooks)
        return restored


def _same(now: list[Any], kept: list[Any]) -> bool:
    """The same objects in the same order (by identity: a driver's ``__eq__`` is not run)."""
    return len(now) == len(kept) and all(map(is_, now, kept))


def _restore(now: list[Any], kept: list[Any], kind: str) -> list[str]:
    """Put back each of ``kept`` missing from ``now``, at its place (or at the end)."""
    restored = []
    for position, item in enumerate(kept):
        if not any(item is present for present in now):
            now.insert(min(position, len(now)), item)
            restored.append(f"{kind} {_name(item)}")
    return restored


def _name(thing: object) -> str:
    """A finder's or hook's name for a message: a function's or class's own, else its
    class's; never its ``repr`` (driver code)."""
    name = thing.__qualname__ if isinstance(thing, (FunctionType, MethodType, type)) else None
    if not isinstance(name, str):
        name = type(thing).__qualname__
    return name[:120]


class _Failed:
    """A guarded finder's or hook's first exception, said once."""

    def __init__(self, thing: object, kind: str, where: str, report: Report) -> None:
        self.thing, self.kind, self.where, self.report = thing, kind, where, report
        self.failed = False

    def fail(self, error: BaseException) -> None:
        from iokit_host.kernel.driver_calls import describe_error  # only when one fails

        self.failed = True
        self.report(Diagnostic(
            "driver-import-hook-failed",
            f"the {self.kind} {_name(self.thing)} added {self.where} raised "
            f"{describe_error(error)}; it is not asked again, and imports go on without it",
            severity=Severity.WARNING,
            hint="a kext shares the kernel's import system: a finder or path hook it adds "
                 "returns None (or raises ImportError) for what is not its own"))


class _GuardedFinder:
    """A driver's ``sys.meta_path`` finder: what it raises is "not found"."""

    def __init__(self, finder: object, where: str, report: Report) -> None:
        self._finder = finder
        self._state = _Failed(finder, "import finder", where, report)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if getattr(self._finder, "find_spec", None) is None:  # a finder of the old protocol
            loader = self._ask("find_module", None, name, path)
            return None if loader is None else spec_from_loader(name, loader)
        return self._ask("find_spec", None, name, path, target)

    def find_distributions(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(self._ask("find_distributions", (), *args, **kwargs) or ())

    def invalidate_caches(self) -> None:
        self._ask("invalidate_caches", None)

    def _ask(self, method: str, nothing: Any, *args: Any, **kwargs: Any) -> Any:
        if self._state.failed:
            return nothing
        call = getattr(self._finder, method, None)
        if call is None:
            return nothing
        try:
            found = call(*args, **kwargs)
            return list(found) if method == "find_distributions" and found is not None \
                else found
        except Exception as error:  # noqa: BLE001 - a driver's finder may raise anything
            self._state.fail(error)
            return nothing


class _GuardedHook:
    """A driver's ``sys.path_hooks`` hook: what it raises is the ImportError of "not mine"."""

    def __init__(self, hook: Callable[[str], Any], where: str, report: Report) -> None:
        self._hook = hook
        self._state = _Failed(hook, "path hook", where, report)

    def __call__(self, path: str) -> Any:
        if self._state.failed:
            raise ImportError("a path hook that failed before")
        try:
            return self._hook(path)
        except ImportError:
            raise
        except Exception as error:  # noqa: BLE001 - a driver's hook may raise anything
            self._state.fail(error)
            raise ImportError(f"the path hook {_name(self._hook)} failed") from None
