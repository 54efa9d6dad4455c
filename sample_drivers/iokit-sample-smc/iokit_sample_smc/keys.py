"""SMC keys: four-character names with a type and big-endian bytes (AppleSMC's key table).

The SMC answers by key: ``TC0P`` is a temperature (``sp78``: signed 8.8 fixed point, degrees
Celsius), ``F0Ac`` a fan's speed (``fpe2``: unsigned 14.2 fixed point, rpm), ``FNum`` the number
of fans (``ui8``), ``#KEY`` the number of keys (``ui32``). The table is built from the SMC
nub's ``Fans`` and ``TemperatureSensors`` properties; fan minimum and target speeds are the
keys a program may write (as ``smc -k F0Mn -w 07d0`` does on a Mac).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["KEY_LENGTH", "MAX_DATA", "SMCKey", "decode", "fourcc", "key_table"]

KEY_LENGTH = 4
#: The most bytes one key holds (SMCKeyData_t's ``bytes[32]``, less the type we prepend).
MAX_DATA = 28
_TEMPERATURE_BASE = 40.0


@dataclass(frozen=True)
class SMCKey:
    name: str
    type: str
    data: bytes
    writable: bool = False


def fourcc(name: str) -> int:
    """A key's name as the 32-bit number the SMC uses for it."""
    return int.from_bytes(name.encode("ascii"), "big")


def _fpe2(rpm: float) -> bytes:
    return struct.pack(">H", max(0, min(int(rpm * 4), 0xFFFF)))


def _sp78(celsius: float) -> bytes:
    return struct.pack(">h", max(-0x8000, min(round(celsius * 256), 0x7FFF)))


def decode(key_type: str, data: bytes) -> str:
    """What ``smc -r`` prints for a value of ``key_type``."""
    if key_type == "sp78" and len(data) == 2:
        return f"{struct.unpack('>h', data)[0] / 256:g}"
    if key_type == "fpe2" and len(data) == 2:
        return f"{struct.unpack('>H', data)[0] / 4:g}"
    if key_type.startswith("ui") and data:
        return str(int.from_bytes(data, "big"))
    return data.hex(" ")


def key_table(fans: Any, sensors: Any) -> dict[str, SMCKey]:
    """The keys of an SMC with ``fans`` (the nub's ``Fans``) and ``sensors``
    (``TemperatureSensors``); entries that are not shaped as expected are skipped."""
    keys: dict[str, SMCKey] = {}
    fan_list = [f for f in fans if isinstance(f, Mapping)] if isinstance(fans, Sequence) else []
    keys["FNum"] = SMCKey("FNum", "ui8 ", bytes([len(fan_list) & 0xFF]))
    for index, fan in enumerate(fan_list):
        for suffix, field, writable in (("Ac", "ActualSpeed", False), ("Mn", "MinSpeed", True),
                                        ("Mx", "MaxSpeed", False), ("Tg", "MinSpeed", True)):
            value = fan.get(field, 0)
            rpm = value if isinstance(value, int) and not isinstance(value, bool) else 0
            name = f"F{index}{suffix}"
            keys[name] = SMCKey(name, "fpe2", _fpe2(rpm), writable)
    if isinstance(sensors, Mapping):
        for index, name in enumerate(sorted(n for n in sensors if _is_key_name(n))):
            keys[name] = SMCKey(name, "sp78", _sp78(_TEMPERATURE_BASE + 2.5 * index))
    keys["#KEY"] = SMCKey("#KEY", "ui32", (len(keys) + 1).to_bytes(4, "big"))
    return keys


def _is_key_name(name: object) -> bool:
    return isinstance(name, str) and len(name) == KEY_LENGTH and name.isascii()
