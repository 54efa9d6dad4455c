"""stdout as the ``iokit`` command writes it: whatever a name holds, it prints.

A command echoes names it was given (``iokit kext inspect NAME``, a dump's path) and names it
read (registry entries, personalities). A name from the OS that is not UTF-8 reaches Python
as surrogate escapes (PEP 383), and a terminal with a narrower encoding cannot show every
character; Python's strict stdout would fail on either. macOS's C tools write the bytes they
were given; so does :func:`tolerate_any_text`: surrogate escapes go out as the original bytes,
anything else the encoding lacks as a ``\\u`` escape.
"""

from __future__ import annotations

import codecs
import sys
from typing import TextIO

__all__ = ["ERRORS", "tolerate_any_text"]

ERRORS = "iokit-original-bytes"


def _original_bytes_else_escape(error: UnicodeError) -> tuple[str | bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    try:
        return codecs.lookup_error("surrogateescape")(error)
    except UnicodeError:
        return codecs.lookup_error("backslashreplace")(error)


codecs.register_error(ERRORS, _original_bytes_else_escape)


def tolerate_any_text(stream: TextIO | None = None) -> None:
    """Let ``stream`` (stdout) write any str; a stream that cannot change is left alone."""
    stream = sys.stdout if stream is None else stream
    if getattr(stream, "errors", None) != "strict":
        return  # already lenient (surrogateescape under the C locale), or not a text file
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return
    try:
        reconfigure(errors=ERRORS)
    except (ValueError, OSError):
        pass  # closed or detached: it will not be written anyway
