"""``iokit ioreg``: boot a machine and print its registry as Apple's ``ioreg`` does.

Flags are ioreg's (``-l -p -c -n -k -r -t -d -w -x -i -a -s -S -y``) plus ``--json`` for
scripts. As ioreg, ``-w`` defaults to the terminal width when stdout is a terminal and to
unlimited otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path
from iokit_host.ioreg import IoregOptions, write_text
from iokit_host.ioreg.archive import write_archive
from iokit_host.ioreg.jsonout import write_json
from iokit_host.registry import IORegistry

__all__ = ["configure", "options_from_args", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-l", dest="list_properties", action="store_true",
                        help="list properties of all objects")
    parser.add_argument("-p", dest="plane", default=SERVICE_PLANE, metavar="PLANE",
                        help="traverse the registry over this plane (default: IOService)")
    parser.add_argument("-c", dest="class_name", metavar="CLASS",
                        help="list properties of objects of (or inheriting from) this class")
    parser.add_argument("-n", dest="name", metavar="NAME",
                        help="list properties of objects with this name (name@location too)")
    parser.add_argument("-k", dest="key", metavar="KEY",
                        help="list properties of objects that have this property")
    parser.add_argument("-r", dest="root", action="store_true",
                        help="show only the subtrees rooted at matched objects")
    parser.add_argument("-t", dest="tree", action="store_true",
                        help="with -r, also show the ancestors of each subtree")
    parser.add_argument("-d", dest="depth", type=int, default=0, metavar="DEPTH",
                        help="limit the tree to this depth (0: unlimited)")
    parser.add_argument("-w", dest="width", type=int, default=None, metavar="WIDTH",
                        help="clip lines to this width, 0 for unlimited "
                             "(default: the terminal's width on a terminal, else unlimited)")
    parser.add_argument("-x", dest="hex_numbers", action="store_true",
                        help="show numbers and data as hexadecimal")
    parser.add_argument("-i", dest="inheritance", action="store_true",
                        help="show each object's class inheritance")
    parser.add_argument("-s", dest="state", action="store_true", default=True,
                        help="show object state: id, busy state, retain count (default)")
    parser.add_argument("-S", dest="state", action="store_false",
                        help="do not show object state")
    parser.add_argument("-y", dest="ignore_user_classes", action="store_true",
                        help="with -c, ignore DriverKit IOUserClasses")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("-a", dest="archive", action="store_true",
                        help="write an XML property list archive instead of text")
    output.add_argument("--json", dest="json", action="store_true",
                        help="write typed JSON for scripts instead of text")
    add_boot_arguments(parser)
    add_kernel_argument(parser)


def options_from_args(args: argparse.Namespace, is_tty: bool | None = None) -> IoregOptions:
    """The :class:`IoregOptions` the parsed flags ask for."""
    width = args.width
    if width is None:
        tty = sys.stdout.isatty() if is_tty is None else is_tty
        width = shutil.get_terminal_size().columns if tty else 0
    return IoregOptions(
        plane=args.plane, list_properties=args.list_properties, class_name=args.class_name,
        name=args.name, key=args.key, root=args.root, tree=args.tree, depth=max(args.depth, 0),
        width=max(width, 0), hex_numbers=args.hex_numbers, inheritance=args.inheritance,
        state=args.state, ignore_user_classes=args.ignore_user_classes)


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    path = kernel_path(args)
    if path is not None:  # a running kernel's registry, sent as a snapshot
        from iokit_host.server.client import fetch_registry

        write_registry(fetch_registry(path), args, options)
        return 0
    host = host_from_args(args).boot()
    write_registry(host.registry, args, options)
    # stdout carries only the registry (it may be a plist or JSON); diagnostics go to stderr:
    # always what a damaged --machine dump lost, and under --strict the failures.
    print_diagnostics(host.machine.diagnostics if host.machine is not None else ())
    if args.strict:
        print_diagnostics(host.failures())
    return exit_status(args, host)


def write_registry(registry: IORegistry, args: argparse.Namespace,
                   options: IoregOptions) -> None:
    """Print ``registry`` in the format the flags ask for (text, ``-a`` plist, ``--json``)."""
    if args.archive:
        sys.stdout.flush()
        write_archive(registry, sys.stdout.buffer, options)
        sys.stdout.buffer.flush()
    elif args.json:
        write_json(registry, sys.stdout, options)  # streamed: deep registries make huge text
        sys.stdout.write("\n")
    else:  # streamed too: a registry thousands of levels deep prints gigabytes of guides
        write_text(sys.stdout, registry, options)
