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
time in its size; a line of a common shape is told by one regular expression
(:mod:`.fastlines`) and read as the per-line code here would read it, any other by that code.

Damage is read past, not refused (see :mod:`iokit_host.ioreg_import.damage`, which counts each
kind; given ``strict`` it refuses at the first): lines around or inside the dump that are not
dump lines are skipped; a property value that cannot be read is dropped (a redacted string is
kept as printed); an entry line that cannot be read or placed is dropped with the entries
indented under it (but a damaged root line is replaced by a root, keeping the registry); an id
that cannot be read is dropped and its entry kept; past :data:`MAX_ENTRIES` entries the rest is
not read; the block of a dropped entry is skipped unread; a property block cut off by an entry
line keeps what was read; a dump that ends inside an entry drops that entry (in a dump with
property blocks, an entry line with no block after it at the end, when every other entry has
one, counts as cut). Values that fail on a line are only reported when their block closes, so
a cut-off tail is reported once, as the cut. Text that does not start at
``+-o Root`` is put under a synthesised root, so the first entry is the platform entry.
"""

from __future__ import annotations

import re
from typing import Any

from iokit_host.errors import quoted
from iokit_host.ioreg_import.damage import (
    BAD_ENTRY,
    BAD_ID,
    CLIPPED,
    CUT_BLOCK,
    NO_ROOT,
    NOISE,
    NUL,
    REDACTED,
    TOO_LARGE,
    TRUNCATED,
    DamageKind,
    DumpDamage,
)
from iokit_host.ioreg_import.entries import DumpNode, parse_node_line
from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.fastlines import (
    LINE,
    UNREAD,
    header_states,
    remembered_redaction,
    shape_value,
)
from iokit_host.ioreg_import.fastvalues import NOT_PLAIN, NUMBERS, Unusual, plain_container
from iokit_host.ioreg_import.layout import normalise_layout
from iokit_host.ioreg_import.property_lines import read_property
from iokit_host.ioreg_import.quotes import may_have_curly_quotes, straighten_quotes
from iokit_host.ioreg_import.redaction import looks_redacted
from iokit_host.ioreg_import.text import split_lines, text_of
from iokit_host.ioreg_import.wrapping import unwrap_lines

__all__ = ["MAX_ENTRIES", "MAX_TREE_DEPTH", "DumpNode", "read_tree"]

_NODE = "+-o "
_GLYPHS = " |"
_STRUCTURE = (_NODE, '"', "{", "}")
#: The registry root's class: ioreg's first line is always ``+-o Root  <class IORegistryEntry``.
ROOT_CLASS = "IORegistryEntry"
#: Deepest entry accepted; real registries are a few dozen levels deep.
MAX_TREE_DEPTH = 256
#: Most entries read from one dump; real registries have a few thousand. Past it the rest of
#: the dump is not read (``ioreg-dump-too-large``), so repeated text cannot eat the memory.
MAX_ENTRIES = 50_000
#: The property shapes :mod:`.fastlines` reads whole (``other`` is read by :meth:`property`).
_VALUE_SHAPES = frozenset({"decimal", "hexadecimal", "yes", "no", "string", "data", "cstring"})
_STRING_SHAPES = frozenset({"string", "cstring"})
#: Groups of :data:`LINE` the reading loop takes on most lines, by number: a name is looked
#: up on each access, which more than doubles what taking the group costs.
_LEAD, _KEY, _DECIMAL, _STRING, _OTHER, _LABEL, _CLASS, _ID, _TAIL = (
    LINE.groupindex[name]
    for name in ("lead", "key", "decimal", "string", "other", "label", "cls", "id", "tail"))


def read_tree(text: str, source: str, *, damage: DumpDamage | None = None) -> DumpNode:
    """The root node of a dump's text, with its subtree.

    :param damage: where tolerated damage is counted; None refuses any damage (strict).
    :raises IoregDumpInvalid: naming ``source``, the line number and the reason, when nothing
        can be read (or, strict, at the first damage).
    """
    damage = damage if damage is not None else DumpDamage(source, strict=True)
    lines = split_lines(text, damage)
    if may_have_curly_quotes(text):  # (told from the text: the lines need no joining)
        lines = straighten_quotes(lines, damage)
    lines = unwrap_lines(normalise_layout(lines, damage, tabs="\t" in text), damage)
    return _TreeReader(source, damage, lines).read()


class _TreeReader:
    __slots__ = ("block", "blocks", "damage", "dropped", "end", "entries", "last", "lines",
                 "lost", "pending", "root", "source", "stack")

    def __init__(self, source: str, damage: DumpDamage, lines: list[str]) -> None:
        self.source = source
        self.damage = damage
        self.lines = lines
        self.stack: list[DumpNode] = []
        self.root: DumpNode | None = None
        self.block: DumpNode | None = None  # node whose property block is open
        self.lost = False  # the open block is a dropped entry's, or under one: not read
        self.last: DumpNode | None = None
        self.entries = self.blocks = 0  # entry lines placed, property blocks opened
        # Value damage of the open block, reported when it closes (a cut tail is one report).
        self.pending: list[tuple[DamageKind, int, str]] = []
        self.dropped: list[tuple[DamageKind, DumpNode]] = []
        self.end = next((n + 1 for n in range(len(lines) - 1, -1, -1)
                         if lines[n].lstrip(_GLYPHS).startswith(_STRUCTURE)), 0)

    def read(self) -> DumpNode:
        """Read every line: a line of a common shape (:mod:`.fastlines`) directly, any other
        by :meth:`read_slowly`, which reads it exactly as such a line would be read there."""
        lines = self.lines
        count = len(lines)
        match = LINE.match
        numbers, value_shapes, redacted = NUMBERS, _VALUE_SHAPES, remembered_redaction
        plain, not_plain = plain_container, NOT_PLAIN
        properties = None  # the open block's, while its lines are read (not lost)
        index = 0
        while index < count:
            line = lines[index]
            index += 1
            found = match(line)
            shape = found.lastgroup if found is not None else None
            if properties is not None and shape in value_shapes:
                assert found is not None
                if shape == "decimal":  # the commonest value, read here
                    try:
                        properties[found[_KEY]] = numbers[found[_DECIMAL]]
                        continue
                    except Unusual:  # from 2**64 on: left to the careful reader
                        pass
                if shape == "string":  # the next commonest (shape_value, value_of)
                    text = found[_STRING]
                    properties[found[_KEY]] = text if text.isascii() else text_of(text)
                    if redacted(line[found.end(_KEY) + 4:]):
                        self.note_redacted(index, found[_KEY])
                    continue
                value = self.value_of(index, line, found)
                if value is not UNREAD:
                    properties[found[_KEY]] = value
                    continue
            elif shape == "other" and properties is not None:
                # A container or anything unusual, in an open block: what read_slowly does
                # with a property line there, without its tests; a plain container (most)
                # as read_property reads it, without its steps.
                assert found is not None
                text = found[_OTHER]
                value = plain(text)
                if value is not not_plain:
                    properties[found[_KEY]] = value
                    if looks_redacted(text):
                        self.note_redacted(index, found[_KEY])
                    continue
                lead = found.end(_LEAD)
                index = read_property(lines, index, line[lead:], lead, properties,
                                      self.pending)
                continue
            elif shape == "blank":
                continue
            elif shape == "close" and self.block is not None:
                self.close_block()
                properties = None
                continue
            elif shape == "open" and self.block is None and self.last is not None and (
                    self.last.properties is None):
                self.open_block(self.last)
                properties = None if self.lost else self.last.properties
                continue
            elif shape == "tail" and self.entry(index, found):
                continue
            index = self.read_slowly(index, line)
            block = self.block
            properties = block.properties if block is not None and not self.lost else None
        return self.finish()

    def value_of(self, number: int, line: str, found: re.Match[str]) -> Any:
        """The value of a property line of a common shape (:func:`.fastlines.shape_value`),
        a string checked for redaction as any read value is; ``UNREAD`` leaves the line to
        :meth:`property`."""
        shape = found.lastgroup or ""
        value = shape_value(shape, found[shape])
        if shape in _STRING_SHAPES and remembered_redaction(line[found.end(_KEY) + 4:]):
            self.note_redacted(number, found[_KEY])
        return value

    def note_redacted(self, number: int, key: str) -> None:
        """A string that reads but looks redacted: kept as printed, reported when its block
        closes (as :mod:`.property_lines` reports one)."""
        self.pending.append((REDACTED, number, f"property {quoted(key)}, kept as printed"))

    def entry(self, number: int, found: re.Match[str] | None) -> bool:
        """Place the entry of a modern header line (:mod:`.fastlines`) when nothing about it
        or its place needs a diagnostic (see :meth:`node`); False leaves it to that."""
        assert found is not None
        depth, odd = divmod(found.end(_LEAD), 2)
        stack = self.stack
        if (odd or depth > len(stack) or self.block is not None or self.entries >= MAX_ENTRIES
                or depth > MAX_TREE_DEPTH or (depth == 0 and self.root is not None)):
            return False
        label, class_name, digits, tail = found.group(_LABEL, _CLASS, _ID, _TAIL)
        states = header_states(tail)
        if states is None:
            return False
        name, at, location = label.rpartition("@")
        if not at:
            name, location = label, ""
        node = DumpNode(name, location or None, class_name, number, depth, (), int(digits, 16),
                        states)
        # As place() puts an entry that is not dropped (this runs once per entry).
        del stack[depth:]
        if stack:
            stack[-1].children.append(node)
        else:
            self.root = node
        stack.append(node)
        self.last = node
        self.entries += 1
        return True

    def read_slowly(self, index: int, line: str) -> int:
        """Read line ``index`` (1-based) of any shape; returns the index of the next line."""
        content = line.lstrip(_GLYPHS)
        if not content or content.isspace():  # blank (tells without copying the line)
            return index
        if self.entries >= MAX_ENTRIES and content.startswith(_NODE):
            self.stop_reading(index)
            return len(self.lines)
        if self.last is None and not content.startswith(_NODE):
            self.damage.note(NOISE, index, "not an ioreg dump line before the first entry: "
                             f"{content.strip()[:60]!r}")
            return index
        if self.lost and _inside_block(content):
            return index  # lost with a dropped entry: not read, not counted
        if content.startswith('"') and self.block is not None:
            return self.property(index, line, content)
        self.read_line(index, line, content)
        return index

    def read_line(self, number: int, line: str, content: str) -> None:
        if content.startswith(_NODE):
            self.node(number, len(line) - len(content), content[len(_NODE):])
        elif content.rstrip() == "{":
            last = self.last
            if last is None or self.block is not None or last.properties is not None:
                self.damage.note(NOISE, number, "property block without an entry before it")
                return
            self.open_block(last)
        elif content.rstrip() == "}":
            if self.block is None:
                self.damage.note(NOISE, number, "'}' without an open property block")
                return
            self.close_block()
        else:
            self.damage.note(NOISE, number, f"unrecognised line: {content[:60]!r}")

    def open_block(self, node: DumpNode) -> None:
        self.block = node
        self.blocks += 1
        node.properties = {}
        # Only under a dropped entry is the block lost; one is on the stack only when one
        # was dropped at all.
        self.lost = bool(self.dropped) and any(entry.dropped for entry in self.stack)

    def stop_reading(self, number: int) -> None:
        """Leave the rest of the dump unread, from the entry line ``number`` on (see
        :data:`MAX_ENTRIES`)."""
        if self.block is not None:
            self.close_block()
        unread = sum(1 for line in self.lines[number - 1:] if _NODE in line)
        self.damage.note(TOO_LARGE, number, f"more than {MAX_ENTRIES} entries; "
                         f"{unread} entry lines from here on were not read")

    def close_block(self) -> None:
        assert self.block is not None
        if not self.block.dropped:  # a dropped entry's values were reported with it
            for kind, number, detail in self.pending:
                self.damage.note(kind, number, detail)
        self.pending.clear()
        self.block = None
        self.lost = False

    def node(self, number: int, column: int, rest: str) -> None:
        if self.block is not None:
            self.damage.note(CUT_BLOCK, number, "entry line inside the unclosed property block "
                             f"of {quoted(self.block.name)} (line {self.block.line})")
            self.close_block()
        depth = column // 2
        node, clipped, bad_id = parse_node_line(rest, number, depth)
        problem = self.misplaced(column) or self.unreadable(number, node, clipped)
        if problem is None:
            assert node is not None
            if clipped:
                self.damage.note(CLIPPED, number, f"the header of {node.name!r} is clipped")
            if bad_id:
                self.damage.note(BAD_ID, number, f"the id of {quoted(node.name)} cannot be read: "
                                 f"{bad_id[:40]!r}")
            self.place(node, depth)
            return
        kind, detail = problem
        if depth == 0 and self.root is None and kind is BAD_ENTRY:
            # Only the root's own line is damaged: a root in its place keeps the registry.
            self.damage.note(kind, number, f"{detail}; a registry root was put in its place")
            self.place(DumpNode(name="Root", location=None, class_name=ROOT_CLASS, line=number,
                                depth=0), 0)
            return
        self.damage.note(kind, number, detail)
        dropped = DumpNode(name=rest[:40], location=None, class_name="", line=number,
                           depth=depth, dropped=True)
        self.place(dropped, min(depth, len(self.stack)), kind)

    def misplaced(self, column: int) -> tuple[DamageKind, str] | None:
        depth, odd = divmod(column, 2)
        if odd or depth > len(self.stack):
            return BAD_ENTRY, (f"entry indented to column {column}, which is not under an "
                               "entry above it")
        if depth > MAX_TREE_DEPTH:
            return BAD_ENTRY, f"entry nested deeper than {MAX_TREE_DEPTH} levels"
        if depth == 0 and self.root is not None:
            return BAD_ENTRY, "a second root entry; import one registry at a time"
        return None

    def unreadable(self, number: int, node: DumpNode | None,
                   clipped: bool) -> tuple[DamageKind, str] | None:
        if number == self.end and (node is None or clipped):
            return TRUNCATED, ("the dump ends inside this entry line (its '<class ...>' "
                               "header is incomplete)")
        if node is None:
            return BAD_ENTRY, "entry line without a '<class ...>' header"
        return None

    def place(self, node: DumpNode, depth: int, kind: DamageKind = BAD_ENTRY) -> None:
        """Put ``node`` at ``depth``: in the tree, or (dropped, with ``kind``) beside it; an
        entry under a dropped one is lost with it."""
        del self.stack[depth:]
        parent = self.stack[-1] if self.stack else None
        if parent is not None and (parent.dropped or not node.dropped):
            parent.children.append(node)
        elif node.dropped:
            self.dropped.append((kind, node))
        else:
            self.root = node
        self.stack.append(node)
        self.last = node
        self.entries += 1

    def property(self, number: int, line: str, content: str) -> int:
        """Read the property on line ``number`` (:mod:`.property_lines`); returns the index
        of the next line to read."""
        node = self.block
        assert node is not None and node.properties is not None
        return read_property(self.lines, number, content, len(line) - len(content),
                             node.properties, self.pending)

    def finish(self) -> DumpNode:
        last = self.last
        if self.block is not None:
            owner = self.block
            self.pending.clear()
            self.damage.note(TRUNCATED, owner.line, f"the property block of {quoted(owner.name)} "
                             "never closes: the dump ends inside it")
            self.block = None
            if owner is not self.root:
                self.drop_last()
        elif (last is not None and last.properties is None and last is not self.root
              and not last.dropped and self.blocks == self.entries - 1 > 0):
            # Every other entry printed its block (ioreg -l), so the end cut this one's off.
            self.damage.note(TRUNCATED, last.line, f"the dump ends after the entry line of "
                             f"{quoted(last.name)}, before its property block")
            self.drop_last()
        for kind, node in self.dropped:
            self.damage.lose(kind, _count_kept_below(node))
        if self.root is None:
            binary = NUL.reference in self.damage.kinds()
            what = "binary data and " if binary else ""
            raise IoregDumpInvalid(f"not an ioreg dump: the text has {what}no entry lines "
                                   "that can be read", file=self.source, key="line 1",
                                   hint="expected ioreg -l text output (ioreg -lw0)")
        return self.rooted(self.root)

    def drop_last(self) -> None:
        """Drop the entry read last (cut by the end of the dump; it has no children)."""
        node = self.stack.pop()
        if node.dropped:
            return
        parent = self.stack[-1]
        assert parent.children[-1] is node and not node.children
        parent.children.pop()
        node.dropped = True

    def rooted(self, root: DumpNode) -> DumpNode:
        """The registry root: ``root`` itself, or a synthesised one above a headless dump."""
        if root.class_name == ROOT_CLASS:
            return root
        self.damage.note(NO_ROOT, root.line, f"the first entry is {quoted(root.name)} "
                         f"({root.class_name}), not Root")
        return DumpNode(name="Root", location=None, class_name=ROOT_CLASS, line=root.line,
                        depth=0, children=[root])


def _inside_block(content: str) -> bool:
    """True for a line of a property block other than its end (an entry line ends it too)."""
    return not content.startswith(_NODE) and content.rstrip() != "}"


def _count_kept_below(node: DumpNode) -> int:
    """Entries below a dropped one that were not dropped (and counted) themselves."""
    count, stack = 0, list(node.children)
    while stack:
        child = stack.pop()
        count += not child.dropped
        stack.extend(child.children)
    return count
