"""The ``iokit`` console script's process: generated code kept between runs, then the command.

A process that runs one command and ends makes its dataclasses once per run; their methods'
compiled code is kept between runs (:mod:`iokit_host.generated_code`), which must be in place
before the first module that makes one is imported, so before :mod:`iokit_host.cli` is. What
the command compiled anew is kept when it ends, however it ends short of ``os._exit``.

Importing the command can fail before its guard (:mod:`iokit_host.cli.last_resort`) is in
place: a broken install (``iokit-sdk`` uninstalled, a ``PYTHONPATH`` folder shadowing it).
That is said as the guard would say it (:mod:`iokit_host.dependencies`), never a traceback.
"""

from __future__ import annotations

import sys

from iokit_host.dependencies import missing_distribution

__all__ = ["run"]

_EXIT_FAILURE = 1


def run() -> None:
    """Console-script entry point (``iokit``, ``python -m iokit_host``)."""
    try:
        from iokit_host.generated_code import keep_compiled

        store = keep_compiled("iokit")
        from iokit_host.cli import run as command  # after: its dataclasses' code comes from store
    except ImportError as error:
        found = missing_distribution(error)
        if found is None:
            raise  # a bug of the host's own, not an install's: the interpreter says it
        print(f"iokit: {found}", file=sys.stderr)
        sys.exit(_EXIT_FAILURE)
    try:
        command()
    finally:
        if store is not None:
            store.save()
