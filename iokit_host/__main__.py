"""``python -m iokit_host``: the ``iokit`` command."""

from iokit_host.console import run

run()
