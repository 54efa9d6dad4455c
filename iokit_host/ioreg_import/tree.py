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
from dataclasses import dataclass, field
from typing import Any

from iokit_host.ioreg_import.damage import (
    BAD_ENTRY,
    BAD_ID,
    BAD_VALUE,
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
from iokit_host.ioreg_import.errors import IoregDumpInvalid, ValueSyntaxError
from iokit_host.ioreg_import.layout import normalise_layout
from iokit_host.ioreg_import.quotes import straighten_quotes
from iokit_host.ioreg_import.redaction import looks_masked, looks_redacted
from iokit_host.ioreg_import.text import split_lines
from iokit_host.ioreg_import.values import parse_value
from iokit_host.ioreg_import.wrapping import unwrap_lines

__all__ = ["MAX_ENTRIES", "MAX_TREE_DEPTH", "DumpNode", "read_tree"]

_NODE = "+-o "
_CLASS = "<class "
_GLYPHS = " |"
_STRUCTURE = (_NODE, '"', "{", "}")
#: The registry root's class: ioreg's first line is always ``+-o Root  <class IORegistryEntry``.
ROOT_CLASS = "IORegistryEntry"
#: Lines a raw multi-line string may continue over before the line counts as malformed.
MAX_CONTINUATION = 64
#: Deepest entry accepted; real registries are a few dozen levels deep.
MAX_TREE_DEPTH = 256
#: Most entries read from one dump; real registries have a few thousand. Past it the rest of
#: the dump is not read (``ioreg-dump-too-large``), so repeated text cannot eat the memory.
MAX_ENTRIES = 50_000
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")


@dataclass(slots=True, eq=False)  # identity: two entries printed alike are still two
class DumpNode:
    """One entry as printed: what the line and its property block say, nothing inferred.

    :param inheritance: the ``-i`` class chain, most derived first; empty without ``-i``.
    :param properties: None when no property block was printed (tree-only dumps).
    :param line: 1-based line number of the node line, for diagnostics.
    :param dropped: True for an entry dropped as damaged; it is never part of the tree.
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
    dropped: bool = False




def read_tree(text: str, source: str, *, damage: DumpDamage | None = None) -> DumpNode:
    """The root node of a dump's text, with its subtree.

    :param damage: where tolerated damage is counted; None refuses any damage (strict).
    :raises IoregDumpInvalid: naming ``source``, the line number and the reason, when nothing
        can be read (or, strict, at the first damage).
    """
    damage = damage if damage is not None else DumpDamage(source, strict=True)
    lines = straighten_quotes(split_lines(text, damage), damage)
    lines = unwrap_lines(normalise_layout(lines, damage), damage)
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
        lines = self.lines
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            content = line.lstrip(_GLYPHS)
            if not content or content.isspace():  # blank (tells without copying the line)
                continue
            if self.entries >= MAX_ENTRIES and content.startswith(_NODE):
                self.stop_reading(index)
                break
            if self.last is None and not content.startswith(_NODE):
                self.damage.note(NOISE, index, "not an ioreg dump line before the first entry: "
                                 f"{content.strip()[:60]!r}")
                continue
            if self.lost and _inside_block(content):
                continue  # lost with a dropped entry: not read, not counted
            if content.startswith('"') and self.block is not None:
                index = self.property(index, line, content)
            else:
                self.read_line(index, line, content)
        return self.finish()

    def read_line(self, number: int, line: str, content: str) -> None:
        if content.startswith(_NODE):
            self.node(number, len(line) - len(content), content[len(_NODE):])
        elif content.rstrip() == "{":
            last = self.last
            if last is None or self.block is not None or last.properties is not None:
                self.damage.note(NOISE, number, "property block without an entry before it")
                return
            self.block = last
            self.blocks += 1
            last.properties = {}
            self.lost = any(node.dropped for node in self.stack)
        elif content.rstrip() == "}":
            if self.block is None:
                self.damage.note(NOISE, number, "'}' without an open property block")
                return
            self.close_block()
        else:
            self.damage.note(NOISE, number, f"unrecognised line: {content[:60]!r}")

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
                             f"of {self.block.name!r} (line {self.block.line})")
            self.close_block()
        depth = column // 2
        node, clipped, bad_id = _parse_node_line(rest, number, depth)
        problem = self.misplaced(column) or self.unreadable(number, node, clipped)
        if problem is None:
            assert node is not None
            if clipped:
                self.damage.note(CLIPPED, number, f"the header of {node.name!r} is clipped")
            if bad_id:
                self.damage.note(BAD_ID, number, f"the id of {node.name!r} cannot be read: "
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
        """Read the property on line ``number``; returns the index of the next line to read.

        ioreg prints strings raw, so a string holding newlines continues on the following
        lines without glyphs; those are joined back (at most :data:`MAX_CONTINUATION`, and
        never a line that reads as the block's next property or its end).
        """
        node = self.block
        assert node is not None and node.properties is not None
        split = content.find('" = ', 1)
        if split < 0:
            self.pending.append((BAD_VALUE, number, "property line without '\"key\" = value'"))
            return number
        key, text = content[1:split], content[split + 4:]
        lead = len(line) - len(content)
        following = number
        while True:
            try:
                value = parse_value(text)
            except ValueSyntaxError as error:
                if (error.reason == "unterminated string" and following < len(self.lines)
                        and following - number < MAX_CONTINUATION
                        and not _next_in_block(self.lines[following], lead)):
                    text += "\n" + self.lines[following]
                    following += 1
                    continue
                self.bad_value(number, key, text, error)
                return following
            if looks_redacted(text):
                self.pending.append((REDACTED, number, f"property {key!r}, kept as printed"))
            node.properties[key] = value
            return following

    def bad_value(self, number: int, key: str, text: str, error: ValueSyntaxError) -> None:
        if looks_masked(text):
            self.pending.append((REDACTED, number, f"property {key!r}, dropped: {error}"))
        else:
            self.pending.append((BAD_VALUE, number, f"property {key!r}: {error}"))

    def finish(self) -> DumpNode:
        last = self.last
        if self.block is not None:
            owner = self.block
            self.pending.clear()
            self.damage.note(TRUNCATED, owner.line, f"the property block of {owner.name!r} "
                             "never closes: the dump ends inside it")
            self.block = None
            if owner is not self.root:
                self.drop_last()
        elif (last is not None and last.properties is None and last is not self.root
              and not last.dropped and self.blocks == self.entries - 1 > 0):
            # Every other entry printed its block (ioreg -l), so the end cut this one's off.
            self.damage.note(TRUNCATED, last.line, f"the dump ends after the entry line of "
                             f"{last.name!r}, before its property block")
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
        self.damage.note(NO_ROOT, root.line, f"the first entry is {root.name!r} "
                         f"({root.class_name}), not Root")
        return DumpNode(name="Root", location=None, class_name=ROOT_CLASS, line=root.line,
                        depth=0, children=[root])


def _inside_block(content: str) -> bool:
    """True for a line of a property block other than its end (an entry line ends it too)."""
    return not content.startswith(_NODE) and content.rstrip() != "}"


def _next_in_block(line: str, lead: int) -> bool:
    """True when ``line`` reads as the next property of a block whose properties sit at
    column ``lead`` (or as that block's closing brace), so it cannot continue a string."""
    content = line.lstrip(_GLYPHS)
    column = len(line) - len(content)
    if content.startswith('"') and '" = ' in content:
        return column == lead
    return content.rstrip() == "}" and column == lead - 2


def _count_kept_below(node: DumpNode) -> int:
    """Entries below a dropped one that were not dropped (and counted) themselves."""
    count, stack = 0, list(node.children)
    while stack:
        child = stack.pop()
        count += not child.dropped
        stack.extend(child.children)
    return count


def _parse_node_line(rest: str, number: int,
                     depth: int) -> tuple[DumpNode | None, bool, str | None]:
    """The entry a line (after ``+-o ``) shows, whether its header was clipped, and the id
    text when it cannot be read (the entry is kept without an id then).

    A header clipped before its ``>`` keeps the parts before its last comma (that last part
    may be cut); one clipped inside the class name cannot be read.
    """
    split = rest.rfind(_CLASS)
    if split < 0:
        return None, False, None
    label = rest[:split].rstrip(" \t")
    header = rest[split + len(_CLASS):].rstrip()
    clipped = not header.endswith(">")
    parts = [part.strip() for part in (header if clipped else header[:-1]).split(",")]
    if clipped:
        if len(parts) < 2:
            return None, True, None
        parts.pop()
    chain = [name for name in parts[0].split(":") if name]
    if not chain:
        return None, clipped, None
    name, at, location = label.rpartition("@")
    if not at:
        name, location = label, ""
    node = DumpNode(name=name, location=location or None, class_name=chain[-1], line=number,
                    depth=depth, inheritance=tuple(reversed(chain)) if len(chain) > 1 else ())
    states: list[str] = []
    bad_id = None
    for part in parts[1:]:
        if part.startswith("id "):
            node.entry_id = _entry_id(part[3:])
            bad_id = part[3:] if node.entry_id is None else None
        elif not part.startswith("retain"):
            states.append(part)
    node.states = tuple(states)
    return node, clipped, bad_id


def _entry_id(text: str) -> int | None:
    """The id printed as ``id 0x<hex>``; None when it was edited (``0xXXXXXXXX``, ``<id>``)."""
    digits = text.removeprefix("0x")
    if digits == text or not 0 < len(digits) <= 16 or _HEX_DIGITS.fullmatch(digits) is None:
        return None
    return int(digits, 16)
