"""``--kernel [PATH]``: read a running kernel instead of booting one (every reading tool).

On a Mac ``ioreg`` and ``kextstat`` read the kernel the machine runs. Here a tool boots a host
of its own unless it is given a running ``iokit kernel``: ``--kernel PATH``, ``--kernel`` alone
(``$IOKIT_KERNEL``, else the per-user socket), or ``IOKIT_KERNEL=PATH`` in the environment.
"""

from __future__ import annotations

import argparse
import os

from iokit_sdk.iokitlib.wire import kernel_socket_path

__all__ = ["add_kernel_argument", "kernel_path"]


def add_kernel_argument(parser: argparse.ArgumentParser, *,
                        doing: str = "read the running kernel ('iokit kernel')",
                        instead: str = " instead of booting") -> None:
    parser.add_argument("--kernel", nargs="?", const="", default=None, metavar="PATH",
                        help=f"{doing} listening on PATH (default: $IOKIT_KERNEL, else the "
                             f"per-user socket){instead}; IOKIT_KERNEL=PATH does the same")


def kernel_path(args: argparse.Namespace) -> str | None:
    """The socket to read, or None to boot a host of the command's own."""
    value = getattr(args, "kernel", None)
    if value is None:
        return os.environ.get("IOKIT_KERNEL") or None
    return kernel_socket_path(value or None)
