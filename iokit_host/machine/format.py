"""The machine-model file format: a hardware tree in TOML (a Mac's firmware-published nubs as text).

On a Mac the platform expert and bus drivers publish the nubs that drivers match; a model file
lists those nubs directly. ``[machine]`` names the model, ``[classes]`` declares superclasses of
classes the host does not know, ``[root-properties]`` fills the registry root, and each
``[[nub]]`` is one nub (or recorded driver) in IOService-plane pre-order, naming its ``parent``
by ``id``. Typed property values are described in :mod:`iokit_host.machine.values`; the whole
format, with every key, in ``docs/machine-models.md``.

Ids that start with ``_`` are labels: children may name them as ``parent``, but they are not
kept as the nub's model id (``dump_machine`` writes such labels for parents that have no id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iokit_host.input_file import decode_text, read_input_file, undecodable_place
from iokit_host.machine import errors as E
from iokit_host.machine.doc_cache import cached_document
from iokit_host.machine.document import MAX_NODES, DocumentParser
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import MachineModel
from iokit_host.machine.nesting import too_deep_error
from iokit_host.machine.nodes import node_path
from iokit_host.toml_keys import deep_key_reason

__all__ = ["dump_machine", "node_path", "parse_document", "parse_machine", "read_machine"]

def read_machine(path: str | Path) -> MachineModel:
    """Read a model file; its stem is the machine's name unless ``[machine] name`` says."""
    path = Path(path)
    text = _read_text(path, "machine-model")
    if not text.strip():  # what a failed ``ioreg -lw0 > FILE`` (no ioreg there) leaves
        raise MachineModelError("the file is empty: it holds no machine model and no ioreg "
                                "dump", reference=E.STRUCTURE, file=str(path),
                                hint="give a machine model, the file ioreg -lw0 wrote on "
                                     "the Mac, or an IORegistryExplorer archive")
    return parse_machine(text, source=str(path))


#: Far above any model (a 10,000-nub import is a few MB); past it the file is not one.
MAX_MODEL_BYTES = 256 << 20


def _read_text(path: Path, what: str) -> str:
    """The file's text, UTF-8 with or without a BOM (or UTF-16 with one, as some Windows
    editors save); never waits on a FIFO (input_file)."""
    try:
        data = read_input_file(path, limit=MAX_MODEL_BYTES)
    except FileNotFoundError:
        raise MachineModelError(f"no {what} file at {path}", reference=E.NOT_FOUND,
                                file=str(path)) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise MachineModelError(f"cannot read the file: {reason}", reference=E.SYNTAX,
                                file=str(path)) from None
    try:
        return decode_text(data)
    except UnicodeDecodeError as error:
        raise MachineModelError(f"not text: {undecodable_place(data, error)}",
                                reference=E.SYNTAX, file=str(path),
                                hint="save the file as UTF-8") from None


def parse_machine(text: str, *, source: str | None = None) -> MachineModel:
    """Parse model text; every problem raises :class:`MachineModelError` naming the place."""
    _check_node_count(text, source)
    doc = cached_document(text, source, lambda text: _load_toml(text, source))
    return parse_document(doc, source=source)


#: A ``[[nub]]`` or ``[[entry]]`` header however TOML lets it be spelt (blanks, quotes).
_NODE_HEADER = re.compile(
    r"""^[ \t]*\[\[[ \t]*(?:nub|entry|"nub"|"entry"|'nub'|'entry')[ \t]*\]\]""", re.MULTILINE)


def _check_node_count(text: str, source: str | None) -> None:
    """Refuse a model of more nubs than any can hold before TOML builds a table of each (the
    count of table headers is a scan in C; :class:`DocumentParser` counts exactly later)."""
    headers = text.count("[[nub]]") + text.count("[[entry]]")
    if "[[ " in text or "[[\t" in text or "[[\"" in text or "[['" in text:
        # TOML lets a header space or quote its key (``[[ nub ]]``, ``[["nub"]]``): counted
        # by a scan that takes those too, only when the file holds such a spelling.
        headers = max(headers, len(_NODE_HEADER.findall(text)))
    if headers > MAX_NODES:
        raise MachineModelError(f"{headers} [[nub]] and [[entry]] tables, more than the "
                                f"{MAX_NODES} a model holds", reference=E.TOO_LARGE,
                                file=source, key="nub")


def _load_toml(text: str, source: str | None) -> dict[str, Any]:
    """``tomllib.loads``, with every way it fails turned into a model error naming the file."""
    import tomllib  # only on a miss of the document cache (machine.doc_cache)

    deep = deep_key_reason(text)  # before tomllib, quadratic in a key's parts
    if deep is not None:
        raise MachineModelError(deep, reference=E.TOO_DEEP, file=source, hint="write nested "
                                "tables as [[nub]] entries and property tables, a few deep")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        reason, hint = str(error), None
        if reason.endswith("(at end of document)"):  # say which line that is: the last
            reason = f"{reason[:-1]}, line {text.count(chr(10)) + 1})"
            hint = "the file ends inside a value or table: it was cut off; copy it again"
        raise MachineModelError(f"not valid TOML: {reason}", reference=E.SYNTAX,
                                file=source, hint=hint) from None
    except RecursionError:
        # tomllib reads inline arrays and tables by recursion; find the place ourselves.
        raise too_deep_error(text, source) from None
    except ValueError as error:  # an integer literal past int()'s digit limit, and the like
        raise MachineModelError(_unusable(text, error), reference=E.BAD_VALUE, file=source,
                                hint="integers in a model are at most 64 bits") from None


def _unusable(text: str, error: ValueError) -> str:
    """What ``tomllib`` could not make a value of, in the file's terms: for an integer past
    ``int()``'s digit limit (whose message names a Python setting), its line and length."""
    digits = re.search(r"[0-9_]{4000,}", text) if "digits" in str(error) else None
    if digits is None:
        return f"not a usable TOML value: {error}"
    line = text.count("\n", 0, digits.start()) + 1
    return f"line {line}: an integer of {len(digits[0])} digits, far past 64 bits"


def parse_document(doc: Mapping[str, Any], *, source: str | None = None) -> MachineModel:
    """Validate an already-parsed model document (what ``tomllib`` returns) into a model."""
    return DocumentParser(source).parse(doc)


def read_classes_file(path: str | Path) -> dict[str, str]:
    """The ``[classes]`` table of a TOML file (``Name = "Superclass"``), validated exactly as a
    machine model's ``[classes]`` is (for ``iokit conformance --classes``).

    :raises MachineModelError: when the file is missing, not TOML, or the table is invalid.
    """
    path = Path(path)
    doc = _load_toml(_read_text(path, "classes"), str(path))
    parser = DocumentParser(str(path))
    parser.check_keys(doc, ("classes",), None, "")
    return parser.classes(parser.table(doc.get("classes", {}), None, "classes"))


# -- writing ------------------------------------------------------------------------------

def dump_machine(model: MachineModel) -> str:
    """TOML text that :func:`parse_machine` reads back to an equal model."""
    from iokit_host.machine.writer import write_model

    return write_model(model)
