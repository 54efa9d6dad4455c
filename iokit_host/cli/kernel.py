"""``iokit kernel``: boot a machine and keep it running, serving other processes on a socket.

It boots as ``iokit boot`` does (``--machine``, ``--kext``, ...), then listens on ``--socket``
(``$IOKIT_KERNEL``, else ``$XDG_RUNTIME_DIR/iokit/kernel.sock``, else a 0700 directory of the
user's own under the temp dir), prints exactly one line on stdout, ``iokit kernel: listening on
PATH``, and serves IOKitLib clients (``iokit_sdk.iokitlib``) and the tools' ``--kernel`` until
SIGTERM, SIGINT or SIGHUP. It then stops listening, tells its clients, closes every user client,
terminates the services and exits 0. Its log (boot diagnostics, refused peers, failing drivers)
goes to stderr. ``--entitlements FILE`` is the operator's entitlement policy; ``--group``
shares the socket with a group (mode 0660). ``--http ADDR`` also serves the registry explorer
in the browser (docs/explorer.md), as a client of the same socket; its URL follows the ready
line on stdout (``iokit kernel: explorer on URL``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from iokit_sdk.iokitlib.wire import kernel_socket_path

from iokit_host.cli.common import add_boot_arguments, host_from_args, print_diagnostics
from iokit_host.cli.explore import add_http_arguments, explorer_for
from iokit_host.cli.input_path import input_path

if TYPE_CHECKING:
    from iokit_host.server.signals import StopSignals

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    add_boot_arguments(parser)
    group = parser.add_argument_group("the running kernel")
    group.add_argument("--socket", metavar="PATH", default=None,
                       help="listen here (default: $IOKIT_KERNEL, else the per-user socket)")
    group.add_argument("--entitlements", metavar="FILE", default=None, type=input_path,
                       help="the entitlement policy: which uids, gids and executables hold "
                            "which entitlement (TOML; see docs/userclients.md)")
    group.add_argument("--group", metavar="GROUP", default=None,
                       help="share the socket with this group (mode 0660); its members may "
                            "connect")
    add_http_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from iokit_host.server.shared_memory import shared_memory_directory
    from iokit_host.server.signals import StopSignals

    signals = StopSignals()
    signals.install()  # before the boot: a SIGTERM during it still ends the kernel in order
    with shared_memory_directory():  # drivers may share buffers from their start on
        return _serve(args, signals)


def _serve(args: argparse.Namespace, signals: StopSignals) -> int:
    from iokit_host.errors import Diagnostic
    from iokit_host.server.context import KernelContext
    from iokit_host.server.frontend import FrontEnd
    from iokit_host.server.listener import Listener, resolve_group
    from iokit_host.userclient.entitlements import EntitlementPolicy, read_policy

    problems: list[Diagnostic] = []
    policy = (read_policy(args.entitlements, problems.append) if args.entitlements
              else EntitlementPolicy())
    gid = resolve_group(args.group) if args.group else None
    path = kernel_socket_path(args.socket)
    explorer = explorer_for(args, path)  # bound before the boot: a taken port fails at once
    host = host_from_args(args).boot()
    for problem in problems:
        host.kernel.report(problem)
    for taken in signals.reclaim():  # a driver's start took SIGTERM or SIGINT: back first
        host.kernel.report(taken)
    if args.strict and host.failures():  # --strict: a kernel that booted with failures
        print_diagnostics(host.diagnostics)  # does not start serving
        return 1
    listener = Listener(path, gid)
    frontend = FrontEnd(KernelContext.for_host(host, policy), listener, gid=gid,
                        signals=signals)
    try:  # from here on, whatever happens, the socket file goes with the kernel
        frontend.print_log()  # the boot's diagnostics come before the ready line
        _announce(f"iokit kernel: listening on {path}")
        if explorer is not None:
            explorer.start()
            _announce(f"iokit kernel: explorer on {explorer.url}")
        frontend.serve()
    finally:
        summary = frontend.shutdown()  # first: the explorer's requests in flight fail fast
        if explorer is not None:
            explorer.stop()
        signals.close()
    try:
        print(f"iokit kernel: {summary}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # nobody reads the log any more: the kernel stopped anyway
        pass
    return 0


def _announce(line: str) -> None:
    """Print a line on stdout; a reader that went away (``iokit kernel | head -1``) does not
    stop the kernel, which says so on its log with the line and goes on serving (its stdout
    is only ever these lines)."""
    try:
        print(line, flush=True)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        try:
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for good
            print(f"iokit kernel: stdout is closed ({reason}); {line.removeprefix('iokit kernel: ')}",
                  file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
