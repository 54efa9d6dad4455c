"""Scaffolding: render the driver template into a new package (Xcode's "IOKit Driver" template).

Apple's tooling starts a kext from an Xcode project template; here ``iokit new`` renders
``templates/driver`` with copier. The template ships inside the ``iokit_host`` package
(``iokit_host/_templates`` links to the repository's ``templates/`` and the wheel carries the
files), so it is found the same way in a checkout and in a non-editable install. copier is
imported only when rendering.
"""

from __future__ import annotations

import ast
import builtins
import errno
import importlib.util
import keyword
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iokit_host.errors import IOKitError
from iokit_host.matching.classes import ClassRegistry
from iokit_host.path_reason import folder_problem, os_reason
from iokit_host.template_questions import (
    Question,
    TemplateAnswerError,
    check_answers,
    read_questions,
)

__all__ = ["ScaffoldError", "TemplateAnswerError", "render_driver", "template_path"]

DRIVER_TEMPLATE = "driver"
#: Where copier records the answers it used (the template's ``_copier_conf.answers_file``).
ANSWERS_FILE = ".copier-answers.yml"


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

    The package is rendered in a temporary folder beside ``destination`` and moved into place
    only when complete, so a refused answer or a failed write leaves nothing behind.

    :param answers: answers to template questions (``name``, ``bundle_id``,
        ``provider_class``, ...); questions not answered take their defaults, or are asked
        interactively when ``defaults`` is False. Text answers are converted to the
        question's type (``"0x46d"`` for an ``int``).
    :raises ScaffoldError: ``new-destination-exists`` when ``destination`` exists (nothing is
        written), ``new-destination-unwritable`` when it cannot be created.
    :raises TemplateAnswerError: ``new-unknown-question`` for a key the template does not
        ask, ``new-invalid-answer`` for a value of the wrong type or one the template's
        validator refuses, ``new-answer-not-asked`` for a question the other answers skip,
        ``new-bad-package-name`` for an import package that could never be imported as the
        driver's (a keyword, a standard-library or installed module's name),
        ``new-bad-class-name`` for a driver class the generated code could not define as its
        own (a keyword, a builtin's name, one of IOKit's classes or one the generated modules
        already bind).
    """
    destination = Path(destination)
    source = Path(template) if template is not None else template_path()
    questions = read_questions(source)
    data = check_answers(answers, questions)
    _check_folder_name(str(data.get("name", destination.name)))
    if destination.exists() or destination.is_symlink():  # a link to nothing is there too
        raise ScaffoldError(f"{destination} already exists; not overwriting it",
                            reference="new-destination-exists",
                            hint="pick another NAME or --output, or remove the folder first")
    made = _make_folders(destination)
    staging = _staging_folder(destination, made)
    # Rendered one level down, so the package folder gets ordinary permissions, not mkdtemp's.
    rendered = staging / destination.name
    try:
        _render(source, rendered, data, defaults=defaults)
        _check_all_asked(rendered, data, questions)
        _check_package_name(rendered)
        _check_class_name(rendered)
        rendered.rename(destination)
        made = []  # they hold the package now
    except OSError as error:
        raise _unwritable(destination, error) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_folders(made)  # a refused answer leaves nothing behind (`iokit new a/b`: `a`)
    return destination


def _make_folders(destination: Path) -> list[Path]:
    """Make the folders above the package that are not there yet, one at a time from the
    top; the ones made, deepest first. Only what mkdir made is listed: a path through ``..``
    (``-o x/../mine``) names ``mine`` only once ``x`` exists, and taking every folder that
    did not exist beforehand for one to remove again removed the user's own empty ``mine``."""
    made: list[Path] = []
    try:
        for folder in reversed(destination.parents):
            try:
                folder.mkdir()
            except FileExistsError:
                if os.path.isdir(folder):
                    continue
                raise  # a file, or a link to nothing: _reason says which
            made.insert(0, folder)
    except OSError as error:
        _remove_folders(made)
        raise _unwritable(destination, error) from None
    return made


def _remove_folders(made: list[Path]) -> None:
    for folder in made:
        try:
            folder.rmdir()
        except OSError:  # not empty: something else was put there meanwhile
            break


#: A folder name holds 255 bytes; the staging folder adds a prefix and a random suffix.
_MAX_NAME_BYTES = 200


def _check_folder_name(name: str) -> None:
    """NAME is the package's folder: an empty, ``.`` or ``..`` one would name the output
    folder itself (``iokit new ''`` is not "already exists"), a long one cannot be created."""
    if name.strip() in ("", ".", ".."):
        raise TemplateAnswerError(
            f"NAME must name the new package's folder, not {name!r}",
            key="name", hint="give a distribution name such as acme-keyboard")
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > _MAX_NAME_BYTES:
        raise TemplateAnswerError(
            f"NAME is {size} bytes long; a folder name holds at most {_MAX_NAME_BYTES} here",
            key="name", hint="give a shorter distribution name")


def _check_package_name(rendered: Path) -> None:
    """The import package must be one Python can import as this driver's: not a keyword
    (``import class`` is a syntax error) and not a module that already exists, which the
    driver would shadow or be shadowed by (``test``, ``pip``, ``iokit_host`` itself)."""
    package = _recorded(rendered, "package")
    if package is None:
        return
    reason = None
    if keyword.iskeyword(package):
        reason = "is a Python keyword, so no code can import it"
    elif package in sys.stdlib_module_names:
        reason = "is a standard-library module's name: one of the two would hide the other"
    else:
        try:
            found = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            found = None
        if found is not None:
            where = f" ({found.origin})" if found.origin else ""
            reason = (f"is the name of an installed module{where}: one of the two would hide "
                      "the other")
    if reason:
        raise TemplateAnswerError(f"import package '{package}' {reason}", key="package",
                                  reference="new-bad-package-name",
                                  hint="pick another NAME, or name the package with "
                                       "--package, e.g. --package acme_" + package.strip("_"))


def _recorded(rendered: Path, key: str) -> str | None:
    """The answer to ``key`` copier recorded in the rendered project, when it is text."""
    import yaml  # type: ignore[import-untyped]  # copier's own dependency; no stubs here

    recorded = yaml.safe_load((rendered / ANSWERS_FILE).read_text(encoding="utf-8")) or {}
    answer = recorded.get(key) if isinstance(recorded, dict) else None
    return answer if isinstance(answer, str) else None


def _check_class_name(rendered: Path) -> None:
    """The driver class must be one the generated modules can define and use as theirs: not
    a keyword (``class None`` is a syntax error), not a builtin's name (``Exception``: every
    ``except Exception`` in the module would mean the driver), not one of IOKit's own classes
    (``IOUSBHostInterface``: the host's, and the kext clashes with it) and not a name a generated
    module already binds (``IOService``, ``POWER_STATES``), which it would replace or be
    replaced by."""
    name = _recorded(rendered, "class_name")
    if name is None:
        return
    reason = None
    if keyword.iskeyword(name):
        reason = "is a Python keyword, so no class can have it"
    elif hasattr(builtins, name):
        reason = "is a Python builtin's name: the driver's module would hide it"
    elif (fact := ClassRegistry().fact(name)) is not None:
        reason = (f"is a class IOKit has already (a subclass of {fact.superclass}, known from "
                  f"{fact.where}): the host registers it for a machine's nubs, and the "
                  "driver's kext would fail to load beside it")
    else:
        package = _recorded(rendered, "package")
        for module in sorted(rendered.rglob("*.py")):
            what = _binds_elsewhere(module, name, package)
            if what is not None:
                reason = (f"is already {what} in the generated "
                          f"{module.relative_to(rendered).as_posix()}: one of the two would "
                          "replace the other")
                break
    if reason:
        raise TemplateAnswerError(f"driver class '{name}' {reason}", key="class_name",
                                  reference="new-bad-class-name",
                                  hint="pick another --class-name, e.g. --class-name Acme"
                                       + name.strip("_"))


def _binds_elsewhere(module: Path, name: str, package: object) -> str | None:
    """What else binds ``name`` at the top of ``module`` (``imported from iokit_sdk``,
    ``assigned``) when the module also has the driver class (defines it, or imports it from
    ``package``); None when nothing else does, when the class is not there, or when the module
    cannot be read (the author's problem to see)."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    has_class = False
    other: str | None = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            source = node.module if isinstance(node, ast.ImportFrom) else None
            ours = isinstance(node, ast.ImportFrom) and (
                node.level > 0 or (isinstance(package, str) and source is not None
                                   and source.partition(".")[0] == package))
            for alias in node.names:
                if (alias.asname or alias.name.partition(".")[0]) != name:
                    continue
                if ours:
                    has_class = True
                else:
                    other = other or f"imported from {source or alias.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(leaf, ast.Name) and isinstance(leaf.ctx, ast.Store)
                   and leaf.id == name for target in targets for leaf in ast.walk(target)):
                other = other or "assigned"
        elif isinstance(node, ast.ClassDef) and node.name == name:
            has_class = True
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            other = other or "a function"
    return other if has_class else None


def _staging_folder(destination: Path, made: list[Path]) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    except OSError as error:
        _remove_folders(made)
        raise _unwritable(destination, error) from None


def _unwritable(destination: Path, error: OSError) -> ScaffoldError:
    reason = _reason(error)
    where = f" ({error.filename})" if error.filename else ""
    return ScaffoldError(f"cannot create {destination}: {reason}{where}",
                         reference="new-destination-unwritable", file=str(destination),
                         hint="give --output a folder you may write to")


def _reason(error: OSError) -> str:
    """The OS's reason, but for mkdir's "File exists" on a folder to be: the name is taken by
    a file, a symbolic link that leads nowhere or a loop of links (which reads as if all
    were well)."""
    if error.errno == errno.EEXIST and error.filename is not None:
        problem = folder_problem(os.fsdecode(error.filename))
        if problem is not None:
            return problem
    return os_reason(error)


def _render(source: Path, target: Path, data: dict[str, Any], *, defaults: bool) -> None:
    import copier  # lazy: copier and its dependencies cost ~0.3 s to import
    import pydantic
    import yaml

    try:
        with warnings.catch_warnings():
            # copier warns when it cannot clean up after a failed write; the error says it all.
            warnings.simplefilter("ignore")
            copier.run_copy(str(source), str(target), data=data, defaults=defaults,
                            quiet=True, unsafe=False, overwrite=False, cleanup_on_error=False)
    except (yaml.YAMLError, pydantic.ValidationError) as error:
        # Our template's YAML is checked by the tests: what else copier reads is its settings.
        raise _bad_settings(error) from None
    except ValueError as error:
        # copier reports a failed validator as ValueError("Validation error for question ...").
        raise TemplateAnswerError(str(error).strip(),
                                  hint="see `iokit new --help` for each option's syntax"
                                  ) from None
    except OSError as error:
        command = getattr(error, "argv", None)  # plumbum's ProcessExecutionError: git failed
        if command is None:
            raise
        raise _git_failed(command, error) from None


def _bad_settings(error: Exception) -> ScaffoldError:
    """copier's settings file (``COPIER_SETTINGS_PATH``, else ``settings.yml`` in copier's
    config folder) cannot be read as copier settings."""
    from platformdirs import user_config_path

    path = os.environ.get("COPIER_SETTINGS_PATH") or str(
        user_config_path("copier", appauthor=False) / "settings.yml")
    reason = " ".join(str(error).split())[:300]
    return ScaffoldError(f"copier's settings file is not valid: {reason}",
                         reference="new-copier-settings-invalid", file=path,
                         hint="fix or remove that file (copier reads it on every render)")


def _git_failed(command: Any, error: OSError) -> ScaffoldError:
    """copier runs ``git`` (to tell a template folder from a git bundle), and git stops at a
    configuration it cannot read (``HOME`` or ``XDG_CONFIG_HOME`` leading nowhere)."""
    said = (getattr(error, "stderr", None) or "").strip().splitlines()
    reason = said[-1] if said else f"exit status {getattr(error, 'retcode', '?')}"
    shown = " ".join(str(part) for part in command)
    return ScaffoldError(f"copier ran '{shown}' to read the template, and git failed: {reason}",
                         reference="new-git-failed",
                         hint="git must be able to read its configuration: check HOME, "
                              "XDG_CONFIG_HOME and GIT_CONFIG_GLOBAL")


def _check_all_asked(rendered: Path, data: Mapping[str, Any],
                     questions: Mapping[str, Question]) -> None:
    """copier ignores an answer to a question its ``when`` skips (``id_vendor`` for an
    interface driver); the answers file lists the questions asked."""
    import yaml  # copier's own dependency

    recorded = yaml.safe_load((rendered / ANSWERS_FILE).read_text(encoding="utf-8")) or {}
    for key in data:
        if key not in recorded:
            question = questions[key]
            raise TemplateAnswerError(
                f"the template does not ask {key} here; it is asked only when "
                f"{question.condition}", key=key, reference="new-answer-not-asked",
                hint="drop it, or give the answers that make the template ask it "
                     "(e.g. --provider-class)")
