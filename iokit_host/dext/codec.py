"""The kernel socket's message encoding, for the driver-process channel.

The same frames as a program's connection (a 4-byte big-endian length, a msgpack map, libkern
types kept), from the one codec both use, :mod:`iokit_sdk.wirecodec`. A driver process imports
only that, not IOKitLib's client (:mod:`iokit_sdk.iokitlib`), which it never uses and whose
import cost a third of a launch.
"""

from __future__ import annotations

import msgpack
from iokit_sdk.wirecodec import HEADER, default, fit_integers
from iokit_sdk.wirecodec import ext_hook as _ext_hook

__all__ = ["HEADER", "ext_hook", "fit_integers", "new_packer"]

#: The channel's ``ext_hook``: OSNumbers and sets both travel between kernel and driver.
ext_hook = _ext_hook(sets=True)


def new_packer() -> msgpack.Packer:
    """A packer for one channel (kept, not made per message)."""
    return msgpack.Packer(default=default, strict_types=True, use_bin_type=True)
