"""The ``iokit`` console script's process: generated code kept between runs, then the command.

A process that runs one command and ends makes its dataclasses once per run; their methods'
compiled code is kept between runs (:mod:`iokit_host.generated_code`), which must be in place
before the first module that makes one is imported, so before :mod:`iokit_host.cli` is. What
the command compiled anew is kept when it ends, however it ends short of ``os._exit``.
"""

from __future__ import annotations

from iokit_host.generated_code import keep_compiled

__all__ = ["run"]


def run() -> None:
    """Console-script entry point (``iokit``, ``python -m iokit_host``)."""
    store = keep_compiled("iokit")
    from iokit_host.cli import run as command  # after: its dataclasses' code comes from store

    try:
        command()
    finally:
        if store is not None:
            store.save()
