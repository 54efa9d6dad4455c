"""ioreg's tree layout, read back into nodes (the inverse of ioreg.c ``show``/``indent``).

Each entry is a node line ``<glyphs>+-o name[@location]  <class X, ...>`` whose ``+-o`` sits at
column ``2 * depth``; with ``-l`` it is followed by a property block ``{`` / ``"key" = value`` /
``}`` drawn with the same ``| `` glyphs. Headers come in three shapes:

- modern: ``<class X, id 0x100000138, registered, matched, active, busy 0 (7546 ms), retain 56>``
  (``!registered``/``!matched``/``inactive`` when a bit is clear or set);
- old (PowerPC-era ioreg): ``<class IOPCIDevice, retain count 9>``;
- ``-i``: ``<class IORegistryEntry:IOService:IOPCIDevice, id ...>``, the whole class chain.

Glyphs are not trusted for structure beyond the ``+-o`` column: a line's content is what
follows the leading ``|`` and spaces. Lines are read once, in order, so a dump costs linear
time in its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iokit_host.ioreg_import.errors import IoregDumpInvalid, ValueSyntaxError
from iokit_host.ioreg_import.values import parse_value

__all__ = ["DumpNode", "read_tree"]

_NODE = "+-o "
_CLASS = "  <class "
_GLYPHS = " |"
#: Lines a raw multi-line string may continue over before the line counts as malformed.
MAX_CONTINUATION = 64
#: Deepest entry accepted; real registries are a few dozen levels deep.
MAX_TREE_DEPTH = 256


@dataclass(slots=True)
class DumpNode:
    """One entry as printed: what the line and its property block say, nothing inferred.

    :param inheritance: the ``-i`` class chain, most derived first; empty without ``-i``.
    :param properties: None when no property block was printed (tree-only dumps).
    :param line: 1-based line number of the node line, for diagnostics.
    """

    name: str
    location: str | None
    class_name: str
    line: int
    depth: int
    inheritance: tuple[str, ...] = ()
    entry_id: int | None = None
    states: tuple[str, ...] = ()
    properties: dict[str, Any] | None = None
    children: list[DumpNode] = field(default_factory=list)


def read_tree(text: str, source: str) -> DumpNode:
    """The root node of a dump's text, with its subtree.

    :raises IoregDumpInvalid: naming ``source``, the line number and the reason.
    """
    return _TreeReader(source).read(text)


class _TreeReader:
    __slots__ = ("block", "last", "root", "source", "stack")

    def __init__(self, source: str) -> None:
        self.source = source
        self.stack: list[DumpNode] = []
        self.root: DumpNode | None = None
        self.block: DumpNode | None = None  # node whose property block is open
        self.last: DumpNode | None = None

    def fail(self, number: int, reason: str, hint: str | None = None) -> IoregDumpInvalid:
        return IoregDumpInvalid(reason, file=self.source, key=f"line {number}",
                                hint=hint or "expected ioreg -l text output (ioreg -lw0)")

    def read(self, text: str) -> DumpNode:
        lines = text.split("\n")
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            content = line.lstrip(_GLYPHS)
            if not content.strip():
                continue
            if self.root is None and not content.startswith(_NODE):
                raise self.fail(index, "not an ioreg dump: the first entry line "
                                "('+-o Root  <class ...>') is missing")
            if content.startswith('"') and self.block is not None:
                index = self.property(index, content, lines)
            else:
                self.read_line(index, line, content)
        if self.root is None:
            raise self.fail(1, "not an ioreg dump: the text has no entry lines")
        if self.block is not None:
            raise self.fail(self.block.line, "property block of this entry never closes")
        return self.root

    def read_line(self, number: int, line: str, content: str) -> None:
        if content.startswith(_NODE):
            if self.block is not None:
                raise self.fail(number, "entry line inside an unclosed property block")
            self.node(number, len(line) - len(content), content[len(_NODE):])
        elif content.rstrip() == "{":
            if self.last is None or self.block is not None or self.last.properties is not None:
                raise self.fail(number, "property block without an entry before it")
            self.block = self.last
            self.block.properties = {}
        elif content.rstrip() == "}":
            if self.block is None:
                raise self.fail(number, "'}' without an open property block")
            self.block = None
        else:
            raise self.fail(number, f"unrecognised line: {content[:60]!r}")

    def node(self, number: int, column: int, rest: str) -> None:
        depth, odd = divmod(column, 2)
        if odd or depth > len(self.stack):
            raise self.fail(number, f"entry indented to column {column}, which is not under "
                            "an entry above it")
        if depth > MAX_TREE_DEPTH:
            raise self.fail(number, f"entry nested deeper than {MAX_TREE_DEPTH} levels")
        if depth == 0 and self.root is not None:
            raise self.fail(number, "a second root entry; import one registry at a time",
                            hint="ioreg -r prints several subtrees; dump the whole plane")
        node = _parse_node_line(rest, number, depth)
        if node is None:
            raise self.fail(number, "entry line without a '<class ...>' header")
        del self.stack[depth:]
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.last = node

    def property(self, number: int, content: str, lines: list[str]) -> int:
        """Read the property on line ``number``; returns the index of the next line to read.

        ioreg prints strings raw, so a string holding newlines continues on the following
        lines without glyphs; those are joined back (at most :data:`MAX_CONTINUATION`).
        """
        node = self.block
        assert node is not None and node.properties is not None
        split = content.find('" = ', 1)
        if split < 0:
            raise self.fail(number, "property line without '\"key\" = value'")
        key, text = content[1:split], content[split + 4:]
        following = number
        while True:
            try:
                node.properties[key] = parse_value(text)
                return following
            except ValueSyntaxError as error:
                if (error.reason == "unterminated string" and following < len(lines)
                        and following - number < MAX_CONTINUATION):
                    text += "\n" + lines[following]
                    following += 1
                    continue
                hint = ("the line looks clipped ('$'); dump with ioreg -lw0"
                        if text.endswith("$") else None)
                raise self.fail(number, f"property {key!r}: {error}", hint) from None


def _parse_node_line(rest: str, number: int, depth: int) -> DumpNode | None:
    split = rest.rfind(_CLASS)
    if split < 0 or not rest.rstrip().endswith(">"):
        return None
    label = rest[:split]
    header = rest[split + len(_CLASS):].rstrip()[:-1]
    parts = [part.strip() for part in header.split(",")]
    chain = [name for name in parts[0].split(":") if name]
    if not chain:
        return None
    name, at, location = label.rpartition("@")
    if not at:
        name, location = label, ""
    node = DumpNode(name=name, location=location or None, class_name=chain[-1], line=number,
                    depth=depth, inheritance=tuple(reversed(chain)) if len(chain) > 1 else ())
    states: list[str] = []
    for part in parts[1:]:
        if part.startswith("id 0x"):
            try:
                node.entry_id = int(part[5:], 16)
            except ValueError:
                return None
        elif not part.startswith("retain"):
            states.append(part)
    node.states = tuple(states)
    return node
