"""The distributions the host imports, and what a command says when one cannot be imported.

kextd refuses a kext whose ``OSBundleLibraries`` cannot be resolved, naming the library; here
the host's own libraries are Python distributions (``pyproject.toml``'s dependencies), and a
broken install (``iokit-sdk`` uninstalled, a ``PYTHONPATH`` folder shadowing ``pluggy``) made
every command end in "internal error: ModuleNotFoundError", blaming iokit-host. This names the
distribution, where Python found the module instead, and the ``pip`` command that mends it.

Standard library only, and nothing else until an error: the ``iokit`` console script imports
it before anything that could need a missing distribution, and before its dataclasses' kept
code is in place (:mod:`iokit_host.console`).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported on an error only: errors makes dataclasses, whose compiled
    # code the console script puts in place first (generated_code)
    from iokit_host.errors import Diagnostic

__all__ = ["DISTRIBUTIONS", "REFERENCE", "missing_distribution"]

#: Top-level module -> the distribution that installs it (pyproject's dependencies, and the
#: host itself: a module of it missing is an incomplete install).
DISTRIBUTIONS = {
    "iokit_sdk": "iokit-sdk", "pluggy": "pluggy", "packaging": "packaging",
    "msgpack": "msgpack", "copier": "copier", "yaml": "pyyaml", "starlette": "starlette",
    "uvicorn": "uvicorn", "h11": "h11", "iokit_host": "iokit-host",
}
REFERENCE = "dependency-missing"


def missing_distribution(error: ImportError) -> Diagnostic | None:
    """What to tell the user when ``error`` is a distribution of the host failing to import
    (the module named, or the module whose own import raised it); None for any other."""
    module = _failed_module(error)
    if module is None:
        return None
    from iokit_host.errors import Diagnostic

    distribution = DISTRIBUTIONS[module]
    reason = str(error).strip().replace("\n", " ")[:300] or type(error).__name__
    origin = _origin(module)
    where = f" (Python finds {module} at {origin})" if origin else ""
    return Diagnostic(REFERENCE, f"the {distribution} distribution cannot be imported: "
                      f"{reason}{where}", hint=_hint(distribution, module, origin))


def _failed_module(error: ImportError) -> str | None:
    named = (error.name or "").partition(".")[0]
    if named in DISTRIBUTIONS:
        return named
    # "No module named 'plumbum'" (copier's own dependency) or a module's import raising
    # ImportError itself (a stub shadowing it): the innermost frame is that module's.
    innermost = _innermost(error.__traceback__)
    if innermost is None:
        return None
    name = str(innermost.tb_frame.f_globals.get("__name__", "")).partition(".")[0]
    return name if name in DISTRIBUTIONS and name != "iokit_host" else None


def _innermost(traceback: TracebackType | None) -> TracebackType | None:
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback


def _origin(module: str) -> str | None:
    """Where the import system finds ``module`` (without running it), if anywhere."""
    import importlib.util  # only for an error: every command imports this module

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin if spec.origin not in (None, "namespace") else (
        ", ".join(spec.submodule_search_locations or ()) or None)


def _installed(distribution: str) -> bool:
    """Whether ``distribution``'s metadata is there (its files gone: reinstall, not install)."""
    from importlib import metadata  # only for an error

    try:
        metadata.distribution(distribution)
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return False
    return True


def _hint(distribution: str, module: str, origin: str | None) -> str:
    reinstall = f"{sys.executable} -m pip install --force-reinstall {distribution}"
    if distribution == "iokit-host":
        return f"iokit-host's install is incomplete: reinstall it ({reinstall})"
    needed = "iokit-host needs it"
    if origin is None:
        how = reinstall if _installed(distribution) else (
            f"{sys.executable} -m pip install {distribution}")
        return f"{needed}: install it ({how}), or reinstall iokit-host, which brings it"
    return (f"{needed}: if {origin} is not the installed {distribution} (a folder on "
            f"PYTHONPATH holding a {module} of its own), take it off the path; else "
            f"reinstall it ({reinstall})")
