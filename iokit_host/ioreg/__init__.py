"""``ioreg``: the registry printed as Apple's ``ioreg`` prints it (IOKitTools ``ioreg.tproj``).

Three outputs over one selection of entries (:class:`IoregOptions`): ioreg's text layout
(:func:`render_text`), its ``-a`` XML plist archive (:func:`render_archive`) and a typed,
lossless JSON form for scripts (:func:`render_json`).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from iokit_host.ioreg.format import format_value
from iokit_host.ioreg.options import IoregOptions, UnknownPlaneError
from iokit_host.ioreg.text import iter_text_lines, render_text, write_text

if TYPE_CHECKING:
    from iokit_host.ioreg.archive import render_archive
    from iokit_host.ioreg.jsonout import decode_json_value, encode_json_value, render_json

__all__ = ["IoregOptions", "UnknownPlaneError", "decode_json_value", "encode_json_value",
           "format_value", "iter_text_lines", "render_archive", "render_json", "render_text",
           "write_text"]

#: Imported on first use (PEP 562): ``iokit boot`` prints the text layout only, and the archive
#: and JSON writers' imports would be a share of its start-up.
_LAZY = {"render_archive": "archive", "render_json": "jsonout",
         "decode_json_value": "jsonout", "encode_json_value": "jsonout"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
