"""stdout as the ``iokit`` command writes it: whatever a name holds, it prints.

A command echoes names it was given (``iokit kext inspect NAME``, a dump's path) and names it
read (registry entries, personalities). A name from the OS that is not UTF-8 reaches Python
as surrogate escapes (PEP 383), and a terminal with a narrower encoding cannot show every
character; Python's strict stdout would fail on either. macOS's C tools write the bytes they
were given; so does :func:`tolerate_any_text`: surrogate escapes go out as the original bytes,
anything else the encoding lacks as a ``\\u`` escape.

A terminal is different: it obeys the control characters it is sent, so a name holding
``ESC ]0;...`` would retitle the window or repaint the screen, and a bidirectional override
would reorder what the user reads. On a terminal, :func:`visible_controls` shows such
characters as escapes (``\\x1b``, ``\\u202e``), as ``ls`` and ``git`` do; a file or a pipe
still gets the bytes, so output saved from ``iokit ioreg`` is what ioreg printed.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterable
from typing import Any, TextIO, cast

__all__ = ["ERRORS", "tolerate_any_text", "visible_controls"]

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


#: C0 controls but tab and newline, DEL, C1 controls, the bidirectional embeddings, overrides
#: and isolates, and the surrogate escapes of bytes that were not UTF-8 (0x80-0x9F among them
#: are C1 controls to an 8-bit terminal).
_SHOWN = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
          if code not in (0x09, 0x0A)}
_SHOWN.update({code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F),
                                                   *range(0x2066, 0x206A))})
_SHOWN.update({code: f"\\x{code - 0xDC00:02x}" for code in range(0xDC80, 0xDD00)})


class _Visible:
    """A text stream that writes control characters as escapes; the rest is its stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(text.translate(_SHOWN))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        self._stream.writelines(line.translate(_SHOWN) for line in lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def visible_controls(stream: TextIO) -> TextIO:
    """``stream`` itself, or on a terminal a stream that shows control characters as escapes."""
    try:
        terminal = stream.isatty()
    except (ValueError, OSError, AttributeError):  # closed, detached or not a file
        return stream
    return cast(TextIO, _Visible(stream)) if terminal else stream
