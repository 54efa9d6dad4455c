"""A dump copied out of a web page: its ``<`` and ``>`` escaped as ``&lt;`` and ``&gt;``.

No IOKit counterpart. Dumps are posted to forums and wikis, and a copy of the page's source
keeps the escapes: ``+-o Root  &lt;class IORegistryEntry, retain 15&gt;``. ioreg never writes
an entity, and an entry header always holds ``<class``, so a dump whose entry lines hold
``&lt;class`` and none ``<class`` is such a copy: its entities are undone throughout (one
``ioreg-dump-html-escaped`` warning), which loses nothing.
"""

from __future__ import annotations

import html

from iokit_host.ioreg_import.damage import HTML_ESCAPED, DumpDamage

__all__ = ["unescape_markup"]

_ESCAPED_HEADER = "&lt;class "


def unescape_markup(text: str, damage: DumpDamage) -> str:
    """``text`` with HTML entities undone when it is an escaped copy (see the module doc)."""
    # A dump holds "<class " in its first line, found at once; a search for the escaped
    # header runs over all the text (a millisecond for a megabyte), so it comes second.
    if "<class " in text:
        return text
    at = text.find(_ESCAPED_HEADER)
    if at < 0:
        return text
    damage.note(HTML_ESCAPED, text.count("\n", 0, at) + 1,
                "entry headers read '&lt;class ...&gt;'")
    return html.unescape(text)
