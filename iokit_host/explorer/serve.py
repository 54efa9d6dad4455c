"""Serving the explorer: the address it binds, and uvicorn running it beside a kernel or alone.

``--http ADDR`` is ``PORT``, ``HOST:PORT`` or ``[V6]:PORT`` (port 0 picks a free one); the
host defaults to 127.0.0.1, and an address that is not a loopback one is allowed only because
it was asked for. The socket is bound before the kernel boots, so a taken port fails at once
(``explorer-address-unusable``), not after the boot. In ``iokit kernel --http`` uvicorn runs
in a thread of the kernel's process (signals stay the kernel's); in ``iokit explore --kernel``
it runs in a thread too, and the main thread waits for Ctrl-C, SIGTERM or SIGHUP (its
terminal closed), the signals that stop ``iokit kernel``.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from iokit_host.errors import IOKitError

__all__ = ["DEFAULT_HOST", "AddressError", "ExplorerServer", "bind", "parse_address"]

DEFAULT_HOST = "127.0.0.1"
_STOP_S = 10.0
_TURN_S = 0.5
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class AddressError(IOKitError):
    reference = "explorer-bad-address"


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int


def parse_address(text: str) -> Address:
    """``PORT``, ``HOST:PORT`` or ``[V6]:PORT``; :class:`AddressError` otherwise."""
    raw = text.strip()
    host, port_text = DEFAULT_HOST, raw
    if raw.startswith("["):
        inner, sep, rest = raw[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise _bad(text, "an IPv6 address is written [ADDRESS]:PORT")
        host, port_text = inner, rest[1:]
    elif ":" in raw:
        host, port_text = raw.rsplit(":", 1)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise _bad(text, "the port is a number from 0 to 65535")
    if not host:
        raise _bad(text, "the host is empty")
    return Address(host, int(port_text))


def _bad(text: str, why: str) -> AddressError:
    return AddressError(f"not an address to serve on: {text!r}: {why}", key="--http",
                        hint="e.g. --http 127.0.0.1:8080, --http 8080, or --http 127.0.0.1:0 "
                             "for any free port")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(address: Address) -> socket.socket:
    """A listening TCP socket on ``address``."""
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
        family, _, _, _, where = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, IndexError, ValueError) as error:  # ValueError: the idna codec's
        # UnicodeError for a name DNS cannot carry (a label past 63 characters, an empty one)
        raise AddressError(f"cannot serve on {address.host}:{address.port}: {error}",
                           key="--http", reference="explorer-address-unusable",
                           hint="give an address of this machine, e.g. 127.0.0.1:8080") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise AddressError(f"cannot serve on {address.host}:{address.port}: "
                           f"{error.strerror or error}", key="--http",
                           reference="explorer-address-unusable",
                           hint="another program may use that port; try --http "
                                "127.0.0.1:0 for any free one") from None
    return sock


class ExplorerServer:
    """The explorer for the kernel at ``kernel_path``, on the bound ``sock``; ``names``: host
    names it was asked to serve as (``--http NAME:PORT``), answered besides its addresses."""

    def __init__(self, kernel_path: str, sock: socket.socket, *,
                 allow_events: bool = False, names: tuple[str, ...] = ()) -> None:
        import uvicorn

        from iokit_host.explorer.app import ExplorerState, make_app
        from iokit_host.explorer.bridge import KernelBridge
        from iokit_host.explorer.connections import GuardedH11Protocol
        from iokit_host.explorer.live import LiveRegistry
        from iokit_host.explorer.logs import LOG_CONFIG

        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        self.state = ExplorerState(LiveRegistry(KernelBridge(kernel_path)),
                                   allow_events=allow_events)
        # Bound to a non-loopback address on purpose: answer for any of the machine's addresses
        # and for its own names (and the one --http gave), never for a name a DNS rebinding
        # points here (any host name used to be answered: a page on attacker.example, its
        # name resolved to this machine, read the registry and, with --allow-events, sent
        # events).
        any_ip = not is_loopback(host)
        machine = socket.gethostname()
        hosts = (host, *names, machine, f"{machine}.local") if any_ip else (host,)
        # Connections bounded in number and in the time a request may take to arrive: they
        # cost descriptors of the kernel's own process (:mod:`.connections`).
        config = uvicorn.Config(make_app(self.state, hosts, any_ip=any_ip),
                                log_level="warning", log_config=copy.deepcopy(LOG_CONFIG),
                                access_log=False, lifespan="off", http=GuardedH11Protocol,
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        #: Open the explorer in the user's browser once it serves (``iokit explore``).
        self.open_browser = False

    def open_in_browser(self) -> None:
        if not self.open_browser:
            return
        # Without a display, Python's webbrowser falls back to a console browser (lynx,
        # w3m) that would take over this terminal: the printed URL is enough there.
        if not (sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY")
                or os.environ.get("WAYLAND_DISPLAY")):
            return
        import webbrowser

        try:
            webbrowser.open(self.url)
        except (webbrowser.Error, OSError) as error:  # the URL was printed: enough
            print(f"iokit explore: no browser opened ({error}); open {self.url}",
                  file=sys.stderr, flush=True)

    def start(self) -> None:
        """Serve from a thread of this process."""
        self.state.live.start()
        self.open_in_browser()
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs={"sockets": [self.sock]},
                                        name="iokit-explorer-http", daemon=True)
        self._thread.start()

    def run(self, ready: Callable[[], object] | None = None) -> None:
        """Serve until SIGINT, SIGTERM or SIGHUP, which end it in order (exit status 0, as
        ``iokit kernel``): uvicorn runs in its thread and this one waits for a signal.

        :param ready: called once the signals are routed here and the explorer serves (its
            announcement: a SIGTERM sent on reading it must find the explorer's handler, not
            the default one that kills the process mid-start).
        """
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
        try:
            self.start()
            if ready is not None:
                ready()
            thread = self._thread
            while thread is not None and thread.is_alive() and not stop.wait(_TURN_S):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        self.state.closing.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_S)
        self.state.live.stop()
        self.state.live.bridge.close()
        self.sock.close()
