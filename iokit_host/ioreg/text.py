"""ioreg's text layout: node lines, ``| `` guides and property blocks (``ioreg.c`` ``scan``, ``show``).

Each entry is a node line ``<guides>+-o Name@loc  <class C, id 0x.., state, retain N>``.
The guides come from a bit stack as in ioreg's ``indent``: for an entry at depth n, bit i
(i <= n) says whether the entry at depth i on the path has more siblings below it, bit n+1
whether this entry has (shown) children. A node line prints bits 0..n-1 then ``+-o ``; a
property block prints bits 0..n+1 before each of ``{``, ``  "key" = value``, ``}`` and a
final line of guides alone. With ``-w`` a line of ``width`` characters or more keeps its
first ``width - 1`` and ends in ``$``; newlines inside values become spaces then, as in
ioreg's ``printva``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from iokit_sdk.entry import IORegistryEntry

from iokit_host.ioreg.format import format_value
from iokit_host.ioreg.node import node_label
from iokit_host.ioreg.options import IoregOptions, check_plane
from iokit_host.ioreg.select import Subtree, children, subtrees
from iokit_host.registry import IORegistry

__all__ = ["iter_text_lines", "render_text"]

def render_text(registry: IORegistry, options: IoregOptions | None = None) -> str:
    """The whole output of ``ioreg`` with ``options``, each line ending in a newline.

    :raises UnknownPlaneError: when ``options.plane`` is not a plane of ``registry``.
    """
    lines = list(iter_text_lines(registry, options))
    return "\n".join(lines) + "\n" if lines else ""


def iter_text_lines(registry: IORegistry, options: IoregOptions | None = None) -> Iterator[str]:
    """The output lines, without newlines, already clipped to ``options.width``."""
    options = options or IoregOptions()
    check_plane(registry, options.plane)
    clip = _clipper(options.width)
    for subtree in subtrees(registry, options):
        for line in _subtree_lines(subtree, options):
            yield clip(line)
        if options.root:
            yield ""


def _subtree_lines(subtree: Subtree, options: IoregOptions) -> Iterator[str]:
    for depth, ancestor in enumerate(subtree.ancestors):
        # ioreg shows each ancestor with only its has-children bit set (``2 << index``).
        yield from _entry_lines(ancestor, depth, 2 << depth, options)
    yield from _scan(subtree, options)


def _scan(subtree: Subtree, options: IoregOptions) -> Iterator[str]:
    plane, limit = options.plane, subtree.depth_limit
    on_path: set[int] = set()
    # A visit is (entry, has more siblings, depth, parent's bits); a bare int marks leaving
    # the entry with that id, so a link cycle (a bug elsewhere) cannot make output endless.
    stack: list[tuple[IORegistryEntry, bool, int, int] | int] = [
        (subtree.entry, False, subtree.depth, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            on_path.discard(item)
            continue
        entry, more_siblings, depth, bits = item
        bits = _set_bit(bits, depth, more_siblings)
        kids: tuple[IORegistryEntry, ...] = ()
        if options.expands(depth, limit):
            on_path.add(id(entry))
            kids = children(entry, plane, on_path)
            bits = _set_bit(bits, depth + 1, bool(kids))
            stack.append(id(entry))
        yield from _entry_lines(entry, depth, bits, options)
        last = len(kids) - 1
        stack.extend((kid, index != last, depth + 1, bits)
                     for index, kid in reversed(list(enumerate(kids))))


def _set_bit(bits: int, index: int, value: bool) -> int:
    return bits | (1 << index) if value else bits & ~(1 << index)


def _entry_lines(entry: IORegistryEntry, depth: int, bits: int,
                 options: IoregOptions) -> Iterator[str]:
    yield _guides(bits, depth) + "+-o " + node_label(
        entry, options.plane, options.inheritance, options.state)
    if options.shows_properties(entry):
        prefix = _guides(bits, depth + 2)
        yield prefix + "{"
        # A snapshot: a driver's own thread may set properties while they are printed.
        for key, value in entry.copy_properties().items():
            yield f'{prefix}  "{key}" = {format_value(value, options.hex_numbers)}'
        yield prefix + "}"
        yield prefix


def _guides(bits: int, count: int) -> str:
    # Bit i (least significant first) is column i; the digits of ``bits`` read backwards,
    # each widened to two characters by a translation table: a line thousands of levels deep
    # is made at C speed, where a loop per column made deep machines print in minutes.
    if count <= 0:
        return ""
    digits = format(bits & ((1 << count) - 1), f"0{count}b")[::-1]
    return digits.translate(_GUIDE_COLUMNS)


_GUIDE_COLUMNS = str.maketrans({"1": "| ", "0": "  "})


def _clipper(width: int) -> Callable[[str], str]:
    if width <= 0:
        return str

    def clip(line: str) -> str:
        line = line.replace("\n", " ")
        return line if len(line) < width else line[: width - 1] + "$"

    return clip
