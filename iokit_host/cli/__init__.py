"""The ``iokit`` command: a table of subcommands, each imported only when it runs.

Real IOKit ships separate tools (``ioreg``, ``kextstat``, ``kmutil``, ``pmset``); here they are
subcommands of one ``iokit`` command that print what those tools print. Each subcommand lives
in its own module with ``configure(parser)`` and ``run(args) -> int``; ``main`` imports only
the one asked for, so ``iokit ioreg`` does not pay for copier or the kext scanner.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Sequence

from iokit_host.errors import IOKitError

__all__ = ["COMMANDS", "main", "run"]

#: name -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "boot": ("iokit_host.cli.boot", "boot a machine, match drivers, print the IOService plane"),
    "ioreg": ("iokit_host.cli.ioreg", "print the registry as ioreg does"),
    "explain": ("iokit_host.cli.explain", "why each personality did or did not drive a nub"),
    "machine": ("iokit_host.cli.machine", "list, show and import machine models"),
    "kextstat": ("iokit_host.cli.kextstat", "loaded kexts in load order, as kextstat prints"),
    "kext": ("iokit_host.cli.kext", "inspect a kext manifest and its diagnostics"),
    "kmutil": ("iokit_host.cli.kmutil", "build the kernel collection (kext manifest cache)"),
    "conformance": ("iokit_host.cli.conformance",
                    "check matching against the bindings recorded in real ioreg dumps"),
    "new": ("iokit_host.cli.new", "scaffold a new driver package from the template"),
}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: iokit COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'iokit COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return EXIT_OK if args else EXIT_USAGE
    if args[0] == "--version":
        from importlib.metadata import version

        print(f"iokit-host {version('iokit-host')}")
        return EXIT_OK
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        print(f"iokit: unknown command '{name}'{hint}\n\n{_usage()}", file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"iokit {name}", description=COMMANDS[name][1])
    module.configure(parser)
    parsed = parser.parse_args(rest)
    try:
        return int(module.run(parsed))
    except IOKitError as error:
        print(f"iokit {name}: {error}", file=sys.stderr)
        return EXIT_FAILURE


def run() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(EXIT_OK)
