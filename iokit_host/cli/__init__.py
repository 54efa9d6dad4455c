"""The ``iokit`` command: a table of subcommands, each imported only when it runs.

Real IOKit ships separate tools (``ioreg``, ``kextstat``, ``kmutil``, ``pmset``); here they are
subcommands of one ``iokit`` command that print what those tools print. Each subcommand lives
in its own module with ``configure(parser)`` and ``run(args) -> int``; ``main`` imports only
the one asked for, so ``iokit ioreg`` does not pay for copier or the kext scanner. Every
command runs inside :func:`iokit_host.cli.last_resort.guard`: an error, Ctrl-C or a bug ends
it with one line on stderr and an exit status, never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Sequence

from iokit_host.cli.console import tolerate_any_text, visible_controls
from iokit_host.cli.last_resort import (
    end_despite_threads,
    exit_status,
    flush_output,
    guard,
    lingering_threads,
    reopen_closed_streams,
    silence_stdout,
    stdout_closed,
)
from iokit_host.cli.parser import CommandParser
from iokit_host.cli.stray_errors import report_stray_exceptions
from iokit_host.dependencies import REFERENCE as DEPENDENCY_MISSING
from iokit_host.errors import IOKitError, did_you_mean
from iokit_host.kernel.collector import imports_settled

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
    "kernel": ("iokit_host.cli.kernel",
               "keep a booted machine running and serve programs on a socket"),
    "event": ("iokit_host.cli.event", "apply scenario events to a running kernel"),
    "dext": ("iokit_host.cli.dext",
             "driver extensions and their driver processes, as systemextensionsctl lists"),
    "pmset": ("iokit_host.cli.pmset",
              "the sleep/wake log and power assertions, as pmset prints them"),
    "explore": ("iokit_host.cli.explore",
                "the registry explorer in the browser, as IORegistryExplorer shows it"),
}

EXIT_OK = 0
EXIT_USAGE = 2


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: iokit COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'iokit COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, one_shot: bool = False) -> int:
    """Run one subcommand and return its exit status; nothing escapes (see ``last_resort``).

    :param one_shot: the process ends with the command (the console script): its modules are
        imported with the collector held and then frozen (``kernel.collector``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    name = args[0] if args and args[0] in COMMANDS else None
    tolerate_any_text()  # a name that is not UTF-8 prints as the bytes it was
    stdout, stderr = sys.stdout, sys.stderr
    # A name's escape codes do not reach a terminal, in the output or in a diagnostic (a file
    # or key named by the input); copier's questions draw on it themselves.
    shown = stdout if name == "new" else visible_controls(stdout)
    sys.stdout, sys.stderr = shown, visible_controls(stderr)
    try:
        return guard(f"iokit {name}" if name else "iokit",
                     lambda: _flushed(_dispatch(args, one_shot)))
    finally:
        if sys.stdout is shown:  # not silenced meanwhile (a closed pipe)
            sys.stdout = stdout
        sys.stderr = stderr


def _flushed(status: int) -> int:
    flush_output()  # inside the guard: a full disk is output-write-failed, not a stray error
    return status


def _dispatch(args: list[str], one_shot: bool) -> int:
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return EXIT_OK if args else EXIT_USAGE
    if args[0] == "--version":
        return _version()
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        guess = did_you_mean(name, list(COMMANDS))
        hint = f" ({guess})" if guess else ""
        print(f"iokit: unknown command '{name}'{hint}\n\n{_usage()}", file=sys.stderr)
        return EXIT_USAGE
    with imports_settled() if one_shot else contextlib.nullcontext():
        module = importlib.import_module(COMMANDS[name][0])
    parser = CommandParser(prog=f"iokit {name}", description=COMMANDS[name][1])
    module.configure(parser)
    try:
        parsed = parser.parse_args(rest)
    except SystemExit as usage:  # argparse printed the usage error or the help
        return exit_status(usage)
    return int(module.run(parsed))


def _version() -> int:
    from importlib import metadata

    try:
        print(f"iokit-host {metadata.version('iokit-host')}")
    except metadata.PackageNotFoundError:  # run from a checkout, never installed
        raise IOKitError("iokit-host's version is unknown: it is not installed as a "
                         "distribution (no metadata), only found on the import path",
                         reference=DEPENDENCY_MISSING,
                         hint=f"install it: {sys.executable} -m pip install iokit-host "
                              "(in a checkout: pip install -e .)") from None
    return EXIT_OK


def _say_held_output() -> None:
    """Name the processes a driver started that hold the command's output pipe open past its
    end (:mod:`iokit_host.cli.held_output`), so a reader's wait is explained."""
    from iokit_host.cli.held_output import held_output  # only when the command ends

    for warning in held_output():
        try:
            print(warning, file=sys.stderr, flush=True)
        except (AttributeError, OSError, ValueError):  # stderr gone: nowhere to say it
            return


def run() -> None:
    """Console-script entry point: one command, then the process ends."""
    if reopen_closed_streams():  # first: before anything opens a file on a free number
        sys.exit(stdout_closed())
    report_stray_exceptions()  # the process is the command's: so are its threads' failures
    status = main(one_shot=True)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early (``iokit ioreg | head``): not an error
        silence_stdout()
    except (AttributeError, OSError, ValueError):  # a driver left it unusable: said already
        pass
    _say_held_output()
    lingering = lingering_threads()
    if lingering:  # the interpreter would wait for them, forever if they never end
        end_despite_threads(status, lingering)
    sys.exit(status)
