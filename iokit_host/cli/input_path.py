"""Paths a command reads (``--kext``, ``--events``, ``--machine``, dumps, ``--classes``): a
device is refused where the arguments are parsed.

A reader reads a file to its end; a device such as ``/dev/zero`` or ``/dev/urandom`` has none
(the command would fill memory), and ``/dev/tty`` waits for a keyboard. An empty path names no
file at all (``--events ""``, an unset variable in a script): a command that tested the option
for truth would take it for the option left out and quietly run without it. Everything else, a
missing path included, goes on to the reader, whose diagnostic names the file and the reason;
``/dev/null`` (empty) and pipes (``--events <(generate)``) end, and are read.
"""

from __future__ import annotations

import argparse
import os
import stat

__all__ = ["input_path"]


def input_path(text: str) -> str:
    """argparse ``type`` for a path the command reads; refuses an empty path and a character
    or block device."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path names no file (an unset variable?)")
    try:
        mode = os.stat(text).st_mode
    except (OSError, ValueError):
        return text  # not there, or not a path at all: the reader says so
    if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and not os.path.samefile(text, os.devnull):
        raise argparse.ArgumentTypeError(
            f"{text} is a device, not a file: reading it would never end")
    return text
