"""ioreg's text layout: node lines, ``| `` guides and property blocks (``ioreg.c`` ``scan``, ``show``).

Each entry is a node line ``<guides>+-o Name@loc  <class C, id 0x.., state, retain N>``.
The guides are those of ioreg's ``indent`` bit stack: for an entry at depth n, bit i
(i <= n) says whether the entry at depth i on the path has more siblings below it, bit n+1
whether this entry has (shown) children. A node line prints bits 0..n-1 then ``+-o ``; a
property block prints bits 0..n+1 before each of ``{``, ``  "key" = value``, ``}`` and a
final line of guides alone. With ``-w`` a line of ``width`` characters or more keeps its
first ``width - 1`` and ends in ``$``; newlines inside values become spaces then, as in
ioreg's ``printva``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TextIO

from iokit_sdk.entry import IORegistryEntry

from iokit_host.ioreg.format import format_value
from iokit_host.ioreg.node import node_label
from iokit_host.ioreg.options import IoregOptions, check_plane
from iokit_host.ioreg.select import Subtree, children, subtrees
from iokit_host.registry import IORegistry

__all__ = ["CHUNK_CHARS", "iter_text_lines", "render_text", "write_text"]

def render_text(registry: IORegistry, options: IoregOptions | None = None) -> str:
    """The whole output of ``ioreg`` with ``options``, each line ending in a newline.

    :raises UnknownPlaneError: when ``options.plane`` is not a plane of ``registry``.
    """
    return "".join(_chunks(registry, options))


def write_text(stream: TextIO, registry: IORegistry, options: IoregOptions | None = None) -> None:
    """Write the output of ``ioreg`` to ``stream`` as :func:`render_text` makes it, in chunks
    of about :data:`CHUNK_CHARS` characters: a registry thousands of levels deep prints
    gigabytes of guides, which are never held in memory at once, and a line a write would
    cost a machine of short lines more than making them.

    :raises UnknownPlaneError: when ``options.plane`` is not a plane of ``registry``.
    """
    write = stream.write
    for chunk in _chunks(registry, options):
        write(chunk)


def iter_text_lines(registry: IORegistry, options: IoregOptions | None = None) -> Iterator[str]:
    """The output lines, without newlines, already clipped to ``options.width``."""
    for batch in _batches(registry, options):
        yield from batch


#: About how many characters :func:`write_text` hands its stream at a time.
CHUNK_CHARS = 1 << 16


def _chunks(registry: IORegistry, options: IoregOptions | None) -> Iterator[str]:
    for batch in _batches(registry, options):
        batch.append("")  # the last line's newline
        yield "\n".join(batch)


def _batches(registry: IORegistry, options: IoregOptions | None) -> Iterator[list[str]]:
    """The output lines, clipped, in lists of about :data:`CHUNK_CHARS` characters (a line
    longer than that is a list of its own)."""
    options = options or IoregOptions()
    check_plane(registry, options.plane)
    clip = _clipper(options.width)
    # The walk appends each entry's lines here and yields their characters: a generator per
    # entry, or a yield per line, would cost more than a line of a registry's text takes.
    lines: list[str] = []
    size = 0
    for subtree in subtrees(registry, options):
        for added in _subtree_lines(subtree, options, lines):
            size += added
            if size >= CHUNK_CHARS:
                yield lines.copy() if clip is None else [clip(line) for line in lines]
                lines.clear()
                size = 0
        if options.root:
            lines.append("")
    if lines:
        yield lines if clip is None else [clip(line) for line in lines]


def _subtree_lines(subtree: Subtree, options: IoregOptions, lines: list[str]) -> Iterator[int]:
    for depth, ancestor in enumerate(subtree.ancestors):
        # ioreg shows each ancestor with only its has-children bit set (``2 << index``):
        # its line has no guides, its property block only the one below it.
        yield _entry_lines(ancestor, _NO_MORE * depth, False, True, options, lines)
    yield from _scan(subtree, options, lines)


def _scan(subtree: Subtree, options: IoregOptions, lines: list[str]) -> Iterator[int]:
    # Column i of a line (ioreg's ``indent`` bit i) is "| " when the entry at depth i on the
    # path has siblings still to come. An entry's guides are its parent's and the parent's
    # own column, so each visit carries its guides, made once from its parent's: a line costs
    # the characters it has, where making each line's guides afresh from a bit stack cost
    # minutes for a machine thousands of levels deep.
    plane, limit = options.plane, subtree.depth_limit
    on_path: set[int] = set()
    # A visit is (entry, has more siblings, depth, guides); a bare int marks leaving the
    # entry with that id, so a link cycle (a bug elsewhere) cannot make output endless.
    stack: list[tuple[IORegistryEntry, bool, int, str] | int] = [
        (subtree.entry, False, subtree.depth, _NO_MORE * subtree.depth)]
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            on_path.discard(item)
            continue
        entry, more_siblings, depth, guides = item
        kids: tuple[IORegistryEntry, ...] = ()
        if options.expands(depth, limit):
            on_path.add(id(entry))
            kids = children(entry, plane, on_path)
            stack.append(id(entry))
        yield _entry_lines(entry, guides, more_siblings, bool(kids), options, lines)
        if kids:
            below = guides + (_MORE if more_siblings else _NO_MORE)
            last = len(kids) - 1
            stack.extend((kid, index != last, depth + 1, below)
                         for index, kid in reversed(list(enumerate(kids))))


_MORE = "| "
_NO_MORE = "  "


def _entry_lines(entry: IORegistryEntry, guides: str, more_siblings: bool, has_kids: bool,
                 options: IoregOptions, lines: list[str]) -> int:
    """Append the entry's lines to ``lines``; their characters, newlines left out."""
    # One f-string: ``guides + "+-o " + label`` would copy the guides twice.
    line = f"{guides}+-o {node_label(entry, options.plane, options.inheritance, options.state)}"
    lines.append(line)
    if not options.shows_properties(entry):
        return len(line)
    # A property block's guides add the entry's own column and whether it has (shown)
    # children: made only for an entry that shows one, as they are as long as the line.
    block = (guides + (_MORE if more_siblings else _NO_MORE)
             + (_MORE if has_kids else _NO_MORE))
    start = len(lines) - 1
    lines.append(block + "{")
    # A snapshot: a driver's own thread may set properties while they are printed.
    hex_numbers = options.hex_numbers
    lines.extend(f'{block}  "{key}" = {format_value(value, hex_numbers)}'
                 for key, value in entry.copy_properties().items())
    lines.append(block + "}")
    lines.append(block)
    return sum(map(len, lines[start:]))


def _clipper(width: int) -> Callable[[str], str] | None:
    if width <= 0:
        return None

    def clip(line: str) -> str:
        line = line.replace("\n", " ")
        return line if len(line) < width else line[: width - 1] + "$"

    return clip
