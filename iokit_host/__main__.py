"""``python -m iokit_host``: the ``iokit`` command."""

from iokit_host.cli import run

run()
