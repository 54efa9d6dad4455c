"""Why a path the user gave is not the folder or file it should be, in the system's own words.

``kextutil`` and ``kmutil`` print the ``strerror`` of the call that failed on a path. The
host's own checks (``os.path.isdir``, ``exists``) answer only yes or no, and a no reads as
"not a folder" or "does not exist" whatever the cause: a loop of symbolic links (``ELOOP``),
a name too long (``ENAMETOOLONG``), a folder not to be searched (``EACCES``). These
functions ask ``stat`` instead and give its reason.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["LEADS_NOWHERE", "MISSING", "NOT_A_FOLDER", "folder_problem", "os_reason", "path_problem"]

NOT_A_FOLDER = "it exists and is not a folder"
MISSING = "it does not exist"
LEADS_NOWHERE = "it is a symbolic link that leads nowhere"


def os_reason(error: OSError) -> str:
    """The system's words for ``error`` (``Too many levels of symbolic links``)."""
    return error.strerror or errno.errorcode.get(error.errno or 0, type(error).__name__)


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why what stands at ``path`` cannot be told (a loop of links, a name too long, a
    folder above not to be searched, a link to nothing); None when something is there or
    plainly nothing is."""
    try:
        os.stat(path)
    except ValueError:  # a NUL in the name: no file has one
        return "a name cannot hold NUL"
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return LEADS_NOWHERE if os.path.lexists(path) else None
        return os_reason(error)
    return None


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is no folder to use: :data:`NOT_A_FOLDER`, the reason of
    :func:`path_problem`, or :data:`MISSING`; None for a folder."""
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            return None
    except (OSError, ValueError):
        return path_problem(path) or MISSING
    return NOT_A_FOLDER
