"""Output files a command writes (``iokit machine import DUMP -o FILE``; ``ioreg -a > FILE`` on
macOS, where the shell is what complains).

An output path is checked before the work starts, so a long import is not thrown away for a
typo in ``-o``; the write itself can still fail (a full disk, a read-only file system), and
either way the user gets the path and the reason as an :class:`OutputError`, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from iokit_host.errors import IOKitError
from iokit_host.path_reason import LEADS_NOWHERE, MISSING, folder_problem, path_problem

__all__ = ["OutputError", "check_writable", "write_text"]

_HINT = "give -o a file in a folder that exists and that you may write to"


class OutputError(IOKitError):
    reference = "output-not-writable"


def check_writable(path: Path, *, inputs: Sequence[Path] = ()) -> None:
    """Refuse ``path`` now if it clearly cannot be written: a folder, a missing or unwritable
    parent folder, a read-only file, or one of the command's ``inputs`` (``iokit machine import
    dump.txt -o dump.txt`` would replace the only copy of the dump with its import).

    Anything else that exists (``/dev/stdout``, a pipe) is the user's choice and is allowed.
    """
    if path.is_dir():  # first: a folder has no name to suggest a file beside ('', '.', '/')
        raise OutputError("cannot write the output file: it is a folder", file=str(path),
                          hint=f"name a file inside it, e.g. {path / 'out.toml'}")
    for source in inputs:
        if _same_file(path, source):
            raise OutputError("cannot write the output file: it is the input file "
                              f"{source}, which writing would destroy", file=str(path),
                              reference="output-is-input",
                              hint=f"give -o another file, e.g. {_beside(path)}")
    parent = path.parent
    problem = folder_problem(parent)  # stat's reason: a loop of links is not "missing"
    if problem == MISSING:
        raise OutputError(f"cannot write the output file: the folder {parent} does not exist",
                          file=str(path), hint=f"create it first (mkdir -p {parent}) or {_HINT}")
    if problem is not None:
        raise OutputError(f"cannot write the output file: {parent}: {problem}",
                          file=str(path), hint=_HINT)
    problem = path_problem(path)
    if problem is not None and problem != LEADS_NOWHERE:  # that is written through, as '>'
        raise OutputError(f"cannot write the output file: {problem}", file=str(path),
                          hint=_HINT)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError("cannot write the output file: it is read-only", file=str(path),
                          hint=_HINT)
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the output file: the folder {parent} is not writable",
                          file=str(path), hint=_HINT)


def _beside(path: Path) -> Path:
    return path.with_name(path.stem + ("-model.toml" if path.suffix == ".toml" else ".toml"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them is not there (yet): not the same file
        return False


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``; :class:`OutputError` with the reason when it fails.

    A regular file (or a new one) is written beside and renamed over, so a write that fails
    half way (a full disk) leaves the old file as it was, never a truncated one. Anything else
    is written in place, opened without waiting: ``open()`` on a named FIFO no process reads
    waits forever, so that is refused at once; one that is read (``-o >(gzip > m.toml.gz)``)
    is written as usual, and so is ``/dev/stdout``.
    """
    check_writable(path)
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # not there yet (or a dangling symlink): a new regular file
        regular = True
    if regular:
        # Through a symlink its file is replaced, not the symlink.
        _replace(path, Path(os.path.realpath(path)), text)
        return
    try:
        descriptor = os.open(path, _FLAGS, 0o666)
    except OSError as error:
        if error.errno == errno.ENXIO:
            raise OutputError("cannot write the output file: it is a FIFO no process reads",
                              file=str(path), hint="start its reader first, or give -o a "
                              "regular file") from None
        raise _write_error(path, error) from None
    try:
        os.set_blocking(descriptor, True)  # a reader's pipe takes the text at its own pace
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise _write_error(path, error) from None


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NONBLOCK", 0)


def _replace(path: Path, target: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then rename it over ``target``."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:  # a new file: what open() would give it under the umask
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    except OSError as error:
        raise _write_error(path, error) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise _write_error(path, error) from None


def _write_error(path: Path, error: OSError) -> OutputError:
    reason = error.strerror or type(error).__name__
    return OutputError(f"cannot write the output file: {reason}", file=str(path), hint=_HINT)
