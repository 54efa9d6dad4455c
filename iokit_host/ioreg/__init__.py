"""``ioreg``: the registry printed as Apple's ``ioreg`` prints it (IOKitTools ``ioreg.tproj``).

Three outputs over one selection of entries (:class:`IoregOptions`): ioreg's text layout
(:func:`render_text`), its ``-a`` XML plist archive (:func:`render_archive`) and a typed,
lossless JSON form for scripts (:func:`render_json`).
"""

from iokit_host.ioreg.archive import render_archive
from iokit_host.ioreg.format import format_value
from iokit_host.ioreg.jsonout import decode_json_value, encode_json_value, render_json
from iokit_host.ioreg.options import IoregOptions, UnknownPlaneError
from iokit_host.ioreg.text import iter_text_lines, render_text

__all__ = ["IoregOptions", "UnknownPlaneError", "decode_json_value", "encode_json_value",
           "format_value", "iter_text_lines", "render_archive", "render_json", "render_text"]
