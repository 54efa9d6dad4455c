"""Scaffolding: render the driver template into a new package (Xcode's "IOKit Driver" template).

Apple's tooling starts a kext from an Xcode project template; here ``iokit new`` renders
``templates/driver`` with copier. The template ships inside the ``iokit_host`` package
(``iokit_host/_templates`` links to the repository's ``templates/`` and the wheel carries the
files), so it is found the same way in a checkout and in a non-editable install. copier is
imported only when rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iokit_host.errors import IOKitError

__all__ = ["ScaffoldError", "render_driver", "template_path"]

DRIVER_TEMPLATE = "driver"


class ScaffoldError(IOKitError):
    reference = "new-failed"


def template_path(name: str = DRIVER_TEMPLATE) -> Path:
    """The folder of template ``name`` (the one holding ``copier.yml``)."""
    here = Path(__file__).resolve().parent
    for root in (here / "_templates", here.parent / "templates"):
        if (root / name / "copier.yml").is_file():
            return root / name
    raise ScaffoldError(f"the '{name}' template is not installed", reference="template-not-found",
                        hint="reinstall iokit-host; its wheel carries iokit_host/_templates")


def render_driver(destination: str | Path, answers: Mapping[str, Any], *,
                  defaults: bool = True, template: str | Path | None = None) -> Path:
    """Render the driver template into ``destination``, which must not exist yet.

    :param answers: answers to template questions (``name``, ``bundle_id``,
        ``provider_class``, ...); questions not answered take their defaults, or are asked
        interactively when ``defaults`` is False.
    :raises ScaffoldError: ``new-destination-exists`` when ``destination`` exists (nothing is
        written), ``new-invalid-answer`` when an answer fails the template's validator.
    """
    destination = Path(destination)
    if destination.exists():
        raise ScaffoldError(f"{destination} already exists; not overwriting it",
                            reference="new-destination-exists",
                            hint="pick another NAME or --output, or remove the folder first")
    source = Path(template) if template is not None else template_path()
    import copier  # lazy: copier and its dependencies cost ~0.3 s to import

    try:
        copier.run_copy(str(source), str(destination), data=dict(answers), defaults=defaults,
                        quiet=True, unsafe=False, overwrite=False)
    except ValueError as error:
        # copier reports a failed validator as ValueError("Validation error for question ...").
        raise ScaffoldError(str(error), reference="new-invalid-answer",
                            hint="see `iokit new --help` for each option's syntax") from None
    return destination
