"""How many notifiers one kext may hold (IOKit bounds what a notification costs: a port's queue
holds ``MACH_PORT_QLIMIT`` messages and drops the rest, marked).

A kernel notifier costs the kernel memory and every later delivery a match; a handler that
installs another notifier each time it is called (one per service published, per message)
doubles them with each event, and within a few events every delivery walks millions. Here
each kext's notifiers, matching and interest alike, count against :data:`MAX_NOTIFIERS_PER_KEXT`;
the install past it raises :class:`NotificationLimit` in the driver's call (its
``add_matching_notification`` or ``register_interest``), so that call fails, named, and the
kext's notifiers already installed keep working. A removed notifier gives its place back.
Notifiers installed for others (a program's over the kernel's socket, a dext's, the host's
own waits), each bounded where it comes from, do not count.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from typing import Any

from iokit_host.errors import IOKitError

__all__ = ["MAX_NOTIFIERS_PER_KEXT", "NotificationLimit", "NotifierQuota", "handler_owner"]

#: Notifiers one kext may hold at once.
MAX_NOTIFIERS_PER_KEXT = 1024


class NotificationLimit(IOKitError):
    """A kext holds :data:`MAX_NOTIFIERS_PER_KEXT` notifiers already."""

    reference = "notification-limit"


def handler_owner(handler: Callable[..., Any], packages: Mapping[str, str]) -> str:
    """The kext a handler's code belongs to (``packages`` maps an import package to its bundle
    identifier), else the module it was defined in."""
    target: Any = handler
    while isinstance(target, functools.partial):
        target = target.func
    module = getattr(getattr(target, "__func__", target), "__module__", None)
    if not isinstance(module, str):  # a builtin method: whose object it is bound to
        bound = getattr(target, "__self__", None)
        module = type(bound).__module__ if bound is not None else None
    if not isinstance(module, str) or module not in sys.modules:
        return "an unknown kext"
    top = module.partition(".")[0]
    return packages.get(module) or packages.get(top) or module


class NotifierQuota:
    """The notifiers each kext holds, against the limit."""

    def __init__(self, limit: int = MAX_NOTIFIERS_PER_KEXT) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def take(self, owner: str, what: str) -> None:
        """Count one more notifier of ``owner``'s, or refuse it.

        :raises NotificationLimit: ``owner`` holds :attr:`limit` already.
        """
        held = self._held.get(owner, 0)
        if held >= self.limit:
            raise NotificationLimit(
                f"{owner} holds {self.limit} notifiers already; this {what} was not installed",
                subject=owner, hint="a handler that installs a notification each time it is "
                "called multiplies them with every event: install once (in start) and "
                "remove() the ones no longer needed")
        self._held[owner] = held + 1

    def give(self, owner: str) -> None:
        """One of ``owner``'s notifiers was removed."""
        held = self._held.get(owner, 0) - 1
        if held > 0:
            self._held[owner] = held
        else:
            self._held.pop(owner, None)

    def held(self, owner: str) -> int:
        return self._held.get(owner, 0)
