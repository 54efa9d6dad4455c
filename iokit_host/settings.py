"""The ``IOKIT_*`` environment switches (IOKit's boot-args, such as ``iocthreads``, for the host).

``IOKIT_STRICT``, ``IOKIT_NO_CACHE`` and ``IOKIT_TRACE_HOOKS`` are on/off switches: unset,
empty or ``0`` is off, anything else is on. ``IOKIT_DISABLE_PLUGINS`` (comma-separated plugin
names) and ``IOKIT_CACHE_DIR`` (a folder) carry values and are read where they are used.
"""

from __future__ import annotations

import os

__all__ = ["env_flag"]


def env_flag(name: str) -> bool:
    """True when the switch ``name`` is set to anything but empty or ``0``."""
    return os.environ.get(name, "") not in ("", "0")
