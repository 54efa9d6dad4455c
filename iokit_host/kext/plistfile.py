"""A property list file read for its top-level dictionary (``OSUnserializeXML`` of a file).

What both a kext's ``Info.plist`` (:mod:`~iokit_host.kext.manifest`) and a dext's
entitlements (:mod:`iokit_host.dext.entitlements`) need: the parse, and the diagnostic for a
file that is not a plist, not a dictionary, or shaped past what OSUnserialize accepts. Kept
apart from the manifest's validation so that reading entitlements does not import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS

from iokit_host.errors import Diagnostic
from iokit_host.kext import plistxml
from iokit_host.kext.plist_types import describe

__all__ = ["load_plist", "shape_diagnostic"]


def load_plist(plist: str | Path, data: bytes, *, careful: list[bool] | None = None
               ) -> tuple[Any, Diagnostic | None]:
    """The plist's top-level dictionary, or a diagnostic saying why there is none.

    :param careful: see :func:`~iokit_host.kext.plistxml.loads`."""
    if not data.strip():  # plistlib says only "Invalid file"
        return None, Diagnostic(
            "manifest-unreadable", "not a property list: the file is empty",
            file=str(plist), hint="the file must be an XML or binary plist")
    try:
        info = plistxml.loads(data, careful=careful)
    except plistxml.PlistShapeError as error:
        return None, shape_diagnostic(error, str(plist))
    except plistxml.PlistUnreadableError as error:
        return None, Diagnostic("manifest-unreadable", f"not a property list: {error}",
                                file=str(plist), hint="the file must be an XML or binary plist")
    except Exception as error:  # noqa: BLE001 - any parser failure is the file's fault
        return None, Diagnostic(
            "manifest-unreadable", f"not a property list: {type(error).__name__}: {error}",
            file=str(plist), hint="the file must be an XML or binary plist")
    if not isinstance(info, dict):
        return None, Diagnostic(
            "manifest-not-a-dictionary", f"the top level is {describe(info)}",
            file=str(plist), hint="an Info.plist's top level must be a <dict>")
    return info, None


def shape_diagnostic(error: plistxml.PlistShapeError, file: str | None) -> Diagnostic:
    """The refusal of a plist too deep, cyclic, too large or with an out-of-range integer."""
    return Diagnostic(
        error.reference, error.reason, file=file, key=error.key or None,
        hint=f"property values nest at most {MAX_VALUE_DEPTH} arrays or dictionaries deep, "
             f"never contain themselves, hold at most {MAX_VALUE_ITEMS} values, and integers "
             "fit in 64 bits (as OSUnserialize needs)")
