"""The command-line parser every ``iokit`` command is built on (argparse, with its help kept honest).

Apple's tools print ``--help`` like any other output, so a help text that cannot be written
(``iokit ioreg --help > /dev/full``) fails as that output would: argparse's own writer drops
an ``OSError`` and exits 0, which would report success for a help nobody got.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["CommandParser"]


class CommandParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose help and usage reach stdout or fail loudly (the last resort
    turns the ``OSError`` into ``output-write-failed``)."""

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        self._write(self.format_help(), file)

    def print_usage(self, file: SupportsWrite[str] | None = None) -> None:
        self._write(self.format_usage(), file)

    @staticmethod
    def _write(text: str, file: SupportsWrite[str] | None) -> None:
        stream = file or sys.stdout
        stream.write(text)
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()  # a full disk shows now, inside the command's guard, not at exit
