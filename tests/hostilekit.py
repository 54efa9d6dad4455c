"""Values a faulty driver hands the kernel whose every method is hostile: each special method
raises ``SystemExit`` (which no ``except Exception`` catches), so a test fails loudly when the
kernel runs any of the driver's code while reading the value outside a guarded call."""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(name: str) -> Any:
    def method(self: object, *args: object) -> NoReturn:
        raise SystemExit(f"the kernel ran the driver's {name}")
    return method


_METHODS = ("__bool__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
            "__int__", "__index__", "__and__", "__rand__", "__repr__", "__str__", "__format__",
            "__len__", "__iter__", "__bytes__")


def _hostile(base: type, name: str) -> type:
    return type(name, (base,), {method: _refuse(method) for method in _METHODS})


#: An object of the driver's own class.
HostileObject: type = _hostile(object, "HostileObject")
#: An ``int`` subclass: its value is a fine number, its methods are not.
HostileInt: type = _hostile(int, "HostileInt")
#: A ``str`` subclass.
HostileStr: type = _hostile(str, "HostileStr")
#: A ``bytes`` subclass.
HostileBytes: type = _hostile(bytes, "HostileBytes")
#: A ``list`` subclass.
HostileList: type = _hostile(list, "HostileList")
#: A ``tuple`` subclass.
HostileTuple: type = _hostile(tuple, "HostileTuple")
