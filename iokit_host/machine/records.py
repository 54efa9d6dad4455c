"""An entry's recorded state in a model file: ``record = {registered = true, matched = true,
active = true, busy = 0, bundle-id = "com.apple.iokit.IOPCIFamily"}`` (what
:class:`~iokit_host.machine.model.EntryRecord` holds: ``IOServiceGetState``, the busy count and
the owning bundle, as an IORegistryExplorer archive or ``ioreg -a`` recorded them).

No IOKit counterpart: the model format's reading and writing of that one key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from iokit_host.machine import errors as E
from iokit_host.machine.bootable import BUSY_MESSAGE, MAX_BUSY
from iokit_host.machine.model import EntryRecord

__all__ = ["RECORD_KEYS", "parse_record", "record_table"]

RECORD_KEYS = ("registered", "matched", "active", "busy", "bundle-id")

#: ``fail(reference, message, key)``: the parser's way to raise, naming the node.
Fail = Callable[[str, str, str], NoReturn]


def parse_record(value: Any, fail: Fail) -> EntryRecord:
    """The :class:`EntryRecord` a ``record`` table gives."""
    if not isinstance(value, dict):
        fail(E.WRONG_TYPE, "expected a table of registered, matched, active, busy, bundle-id",
             "record")
    for key in value:
        if key not in RECORD_KEYS:
            fail(E.UNKNOWN_KEY, f"unknown key '{key}'", f"record.{key}")
    flags = {}
    for key in ("registered", "matched", "active"):
        flag = value.get(key, True)
        if not isinstance(flag, bool):
            fail(E.WRONG_TYPE, "expected true or false", f"record.{key}")
        flags[key] = flag
    busy = value.get("busy", 0)
    if isinstance(busy, bool) or not isinstance(busy, int) or not 0 <= busy <= MAX_BUSY:
        fail(E.BAD_VALUE, BUSY_MESSAGE, "record.busy")
    bundle = value.get("bundle-id")
    if bundle is not None and not isinstance(bundle, str):
        fail(E.WRONG_TYPE, "expected a string", "record.bundle-id")
    return EntryRecord(registered=flags["registered"], matched=flags["matched"],
                       active=flags["active"], busy=busy, bundle_id=bundle)


def record_table(record: EntryRecord) -> dict[str, Any]:
    """The ``record`` table that :func:`parse_record` reads back to ``record``."""
    table: dict[str, Any] = {"registered": record.registered, "matched": record.matched,
                             "active": record.active, "busy": record.busy}
    if record.bundle_id is not None:
        table["bundle-id"] = record.bundle_id
    return table
