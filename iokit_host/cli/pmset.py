"""``iokit pmset``: the power-management log and assertions, as ``pmset`` prints them.

- ``iokit pmset -g log [--json] [--events FILE]``: boot a machine, apply the scenario's events
  (sleep, wake, idle, advance, tickle, assert, release, hot-plug; docs/lifecycle.md), print the
  sleep/wake log: every system transition and every driver's power change with its host-clock
  time and duration, tardy and vetoing drivers named. ``--json`` prints
  ``{"events": [{"t_ms", "kind", "path", "class", "from", "to", "detail"}]}`` (with
  ``duration_ms`` where the event lasts). The log keeps the most recent records
  (``iokit_host.power.log.MAX_LOG_RECORDS``): when it dropped earlier ones the text says how
  many on its first line and the JSON adds ``"dropped"`` and ``"dropped_sleeps"``.
- ``iokit pmset -g assertions [--events FILE]``: the assertions held at the scenario's end.
- ``iokit pmset sleepnow``: sleeps a running system, so it needs ``--kernel`` (each other
  ``iokit`` command boots its own machine); without one it says so and fails.
- ``--kernel [PATH]`` (or ``IOKIT_KERNEL``): ``-g log``, ``-g assertions`` and ``sleepnow`` on
  the running kernel (``iokit kernel``), whose assertions are the programs' own
  (``IOPMAssertionCreateWithName``).

Diagnostics (a damaged event, a driver that failed) go to stderr, as ``iokit boot`` prints them.
"""

from __future__ import annotations

import argparse
import json
import sys

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.cli.input_path import input_path
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path
from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.host import IOKitHost

__all__ = ["configure", "run"]

EXIT_USAGE = 2


class NoRunningSystemError(IOKitError):
    reference = "pmset-no-running-system"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-g", dest="get", choices=("log", "assertions"), metavar="WHAT",
                        help="print 'log' (the sleep/wake log) or 'assertions'")
    parser.add_argument("action", nargs="?", choices=("sleepnow",),
                        help="sleepnow: sleep the running system")
    parser.add_argument("--json", action="store_true",
                        help="with -g log: print the events as JSON")
    parser.add_argument("--events", metavar="FILE", default=None, type=input_path,
                        help="apply a scenario of events after boot (TOML; see "
                             "docs/lifecycle.md): sleep, wake, idle, advance, tickle, assert, "
                             "release, plug, unplug, publish")
    add_boot_arguments(parser)
    add_kernel_argument(parser, doing="ask the running kernel ('iokit kernel')",
                        instead=" instead of booting (--events does not apply)")


def run(args: argparse.Namespace) -> int:
    path = kernel_path(args)
    if path is not None:
        return _run_on_kernel(args, path)
    if args.action == "sleepnow":
        raise NoRunningSystemError(
            "sleepnow sleeps a running system, and none was given: each iokit command "
            "boots its own machine unless --kernel names a running one (iokit kernel)",
            hint="start one with `iokit kernel` and run `iokit pmset sleepnow --kernel`; or, "
                 "to see a sleep, `iokit pmset -g log --events FILE` with an "
                 '[[event]] action = "sleep" (docs/power.md)')
    if args.get is None:
        print("iokit pmset: say what to print (-g log or -g assertions) or sleepnow",
              file=sys.stderr)
        return EXIT_USAGE
    if args.json and args.get != "log":
        print("iokit pmset: --json goes with -g log", file=sys.stderr)
        return EXIT_USAGE
    host = _run_scenario(args)
    if args.get == "log":
        _print_log(host, as_json=args.json)
    else:
        _print_assertions(host)
    print_diagnostics(host.diagnostics)
    return exit_status(args, host)


def _run_on_kernel(args: argparse.Namespace, path: str) -> int:
    """The running kernel's log or assertions, or a sleep of it."""
    from iokit_host.power.log import read_to_json
    from iokit_host.power.pmset_text import render_assertions, render_log
    from iokit_host.server.client import fetch_assertions, fetch_power_log, request_power

    if args.action == "sleepnow":
        request_power(path, "sleep")
        print("Sleeping now...")
        return 0
    if args.get is None or (args.json and args.get != "log") or args.events is not None:
        print("iokit pmset: with --kernel, say -g log [--json], -g assertions or sleepnow "
              "(--events applies to a booted machine; use iokit event)", file=sys.stderr)
        return EXIT_USAGE
    if args.get == "assertions":
        sys.stdout.write(render_assertions(*fetch_assertions(path)))
    elif args.json:
        json.dump(read_to_json(fetch_power_log(path)), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        read = fetch_power_log(path)
        sys.stdout.write(render_log(read.events, dropped=read.dropped,
                                    dropped_sleeps=read.dropped_sleeps))
    return 0


def _run_scenario(args: argparse.Namespace) -> IOKitHost:
    from iokit_host.scenario import apply_events, read_events

    # As ``iokit boot``: an unreadable scenario fails before the boot; a damaged event is
    # reported with the boot's diagnostics and only that event is lost.
    damaged: list[Diagnostic] = []
    events = read_events(args.events, report=damaged.append) if args.events is not None else []
    host = host_from_args(args).boot()
    for diagnostic in damaged:
        host.kernel.report(diagnostic)
    apply_events(host, events)  # each change is in the log; what failed is a diagnostic
    host.power.run_until_idle()
    return host


def _print_log(host: IOKitHost, *, as_json: bool) -> None:
    from iokit_host.power.pmset_text import render_log

    log = host.power.log
    if as_json:
        json.dump(log.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        read = log.read()
        sys.stdout.write(render_log(read.events, dropped=read.dropped,
                                    dropped_sleeps=read.dropped_sleeps))


def _print_assertions(host: IOKitHost) -> None:
    from iokit_host.power.pmset_text import render_assertions

    power = host.power
    preventers = [service.get_name() for service in power.idle_sleep_preventers()]
    sys.stdout.write(render_assertions(power.assertions.active(),
                                       power.assertions.system_wide(), preventers,
                                       host.clock.now_ns()))
