"""The running kernel's DriverKit requests and watch: ``iokit dext list --kernel``, and
noticing a driver process that dies while the kernel is idle (``IOUserServer::clientDied``) or
sends something on its own then (an async completion from a driver thread, a power request).

:class:`DextWatch` keeps the sockets of the live driver processes registered in the front
end's selector, so a server's death wakes the loop at once: the crash is then handled
(terminate with rematch, relaunch) as during a call. ``tool.dext_list`` answers the rows of
``systemextensionsctl list``; :func:`fetch_dexts` is the client side.
"""

from __future__ import annotations

import selectors
from typing import TYPE_CHECKING, Any

from iokit_host.dext.manager import DextManager, manager_for
from iokit_host.dext.records import DextRow

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.server.args import Args
    from iokit_host.server.context import KernelContext
    from iokit_host.server.session import Session

__all__ = ["OPS", "DextWatch", "fetch_dexts"]

#: The selector key data of a driver process's socket.
WATCH = "dext"


class DextWatch:
    """The driver processes' sockets in a front end's selector."""

    def __init__(self, host: IOKitHost, selector: selectors.BaseSelector) -> None:
        self.host = host
        self.selector = selector
        self._watched: dict[int, object] = {}  # fd -> the channel it belonged to
        self._manager: DextManager | None = None

    def sync(self) -> None:
        """Watch exactly the live servers' sockets (servers come and go with relaunches; a
        relaunched server's socket may reuse a dead one's descriptor number)."""
        manager = self._manager
        if manager is None:  # made on first use, then the kernel's for good
            manager = self._manager = manager_for(self.host.kernel)
        if not manager.servers and not self._watched:
            return  # no driver process: the common case, every round of the loop
        live: dict[int, object] = {}
        for record in manager.servers.values():  # a loop: this runs every round
            process = record.process
            if process is not None and process.alive and process.channel is not None:
                live[process.channel.fileno()] = process.channel
                if process.exit_fd is not None:  # its exit, even if a child keeps the socket
                    live[process.exit_fd] = process.channel
        watched = self._watched
        unchanged = len(live) == len(watched)
        for fd, channel in live.items():
            if not unchanged:
                break
            unchanged = watched.get(fd) is channel
        if unchanged:
            return
        for fd, channel in list(self._watched.items()):
            if live.get(fd) is not channel:
                try:
                    self.selector.unregister(fd)
                except (KeyError, ValueError):
                    pass  # closed already: the selector dropped it with the socket
                del self._watched[fd]
        for fd, channel in live.items():
            if fd not in self._watched:
                self.selector.register(fd, selectors.EVENT_READ, WATCH)
                self._watched[fd] = channel

    def ready(self) -> None:
        """A server's socket is readable while idle: it sent something on its own (a
        completion, a power request), or it died. Handle that (a death: terminate with
        rematch) and run the work it made."""
        manager_for(self.host.kernel).poll(0.0)
        self.host.kernel.run_until_quiet()
        self.sync()


def dext_list(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    from iokit_host.dext.listing import dext_rows

    return {"rows": [row.to_json() for row in dext_rows(ctx.host)]}


OPS = {"tool.dext_list": dext_list}


def fetch_dexts(path: str) -> list[DextRow]:
    """The running kernel's driver extensions and processes."""
    from iokit_host.server.client import _ask

    def read(reply: dict[str, Any]) -> list[DextRow]:
        return [DextRow(r["bundle_id"], r["server"], r["pid"], r["state"],
                        r["crashes_in_window"], r["crashes_total"], r["launches"],
                        r["services"], r.get("version")) for r in reply["rows"]]
    return _ask(path, "iokit dext list", "tool.dext_list", read)
