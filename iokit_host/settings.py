"""The ``IOKIT_*`` environment switches (IOKit's boot-args, such as ``iocthreads``, for the host).

``IOKIT_STRICT``, ``IOKIT_NO_CACHE``, ``IOKIT_TRACE_HOOKS`` and ``IOKIT_DEBUG`` (the traceback
of an ``iokit: internal error``) are on/off switches: unset,
empty or ``0`` is off, anything else is on. ``IOKIT_DISABLE_PLUGINS`` (comma-separated plugin
names) and ``IOKIT_CACHE_DIR`` (the folder of the host's caches, :func:`cache_dir`) carry
values and are read where they are used;
``IOKIT_DRIVER_TIMEOUT`` (seconds a driver call may run, 0 for no limit) through
:func:`env_seconds`, which reads more than :data:`MAX_SECONDS` (``inf`` too) as that:
a wait longer than the system's timers hold (``epoll`` counts in 32-bit milliseconds, under
25 days) would stop the kernel the first time it waited that long, and no wait here lasts
11 days (for ``IOKIT_DRIVER_TIMEOUT`` it means no limit, as ``0`` does).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

__all__ = ["MAX_SECONDS", "cache_dir", "env_flag", "env_seconds"]


#: What turns a switch off, spaces and case aside: ``IOKIT_STRICT=false`` (or ``no``, ``off``)
#: means what it says, as ``0`` and unset do, rather than switching it on by being non-empty.
_OFF = frozenset({"", "0", "false", "no", "off"})
#: The most seconds a setting may give (about 11.5 days, half of what ``epoll`` can wait).
MAX_SECONDS = 1_000_000


def env_flag(name: str) -> bool:
    """True when the switch ``name`` is set to anything but empty, ``0``, ``false``, ``no``
    or ``off`` (spaces and case aside)."""
    return os.environ.get(name, "").strip().lower() not in _OFF


def env_seconds(name: str, default: float) -> float:
    """The non-negative number of seconds in ``name``, or ``default`` when unset or empty.

    More than :data:`MAX_SECONDS` (``inf``, ``1e9``) is read as :data:`MAX_SECONDS`.

    :raises ValueError: the value is not a number of seconds (a word, negative, NaN); the
        message names the variable and the value.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{name}={text[:40]!r} is not a number of seconds")
    return min(seconds, MAX_SECONDS)


def cache_dir() -> Path:
    """The folder of the host's caches (the kernel collection, parsed models): ``IOKIT_CACHE_DIR``,
    else ``<sys.prefix>/var/iokit-host`` (one per environment, as kextcache's is per system)."""
    override = os.environ.get("IOKIT_CACHE_DIR")
    return Path(override) if override else Path(sys.prefix, "var", "iokit-host")
