"""Entries printed more than once: a re-print under another parent, or a repeated line."""

from __future__ import annotations

import pytest

from iokit_host.ioreg_import import IoregDumpInvalid, parse_dump
from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.occurrences import fold_occurrences
from iokit_host.ioreg_import.tree import DumpNode, read_tree

ROOT = "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"


def line(depth: int, name: str, number: int) -> str:
    return f"{'  ' * depth}+-o {name}  <class IOService, id 0x{number:x}, registered, retain 4>\n"


def fold(text: str) -> tuple[DumpNode, dict[int, list[str]], frozenset[str]]:
    damage = DumpDamage("d.txt", strict=False)
    root = read_tree(text, "d.txt", damage=damage)
    return root, fold_occurrences(root, damage), damage.kinds()


def shape(node: DumpNode) -> list[object]:
    return [node.name, [shape(child) for child in node.children]]


def test_a_reprint_under_another_parent_adds_that_parent_and_no_entries() -> None:
    text = (ROOT + line(1, "Mac", 0x10) + line(2, "A", 0x11) + line(3, "Shared", 0x20)
            + line(4, "Child", 0x21) + line(2, "B", 0x12) + line(3, "Shared", 0x20)
            + line(4, "Child", 0x21))
    root, extra, kinds = fold(text)
    assert shape(root) == ["Root", [["Mac", [["A", [["Shared", [["Child", []]]]]], ["B", []]]]]]
    assert extra == {0x20: ["0x12"]} and kinds == frozenset()


def test_a_reprint_with_children_the_first_print_lacks_keeps_them() -> None:
    text = (ROOT + line(1, "Mac", 0x10) + line(2, "A", 0x11) + line(3, "Shared", 0x20)
            + line(2, "B", 0x12) + line(3, "Shared", 0x20) + line(4, "Late", 0x22))
    root, extra, _ = fold(text)
    assert shape(root)[1][0][1][0] == ["A", [["Shared", [["Late", []]]]]]  # type: ignore[index]
    assert extra == {0x20: ["0x12"]}


def test_the_same_id_under_the_same_parent_is_a_repeated_line_not_a_parent() -> None:
    text = (ROOT + line(1, "Mac", 0x10) + line(2, "A", 0x11) + line(2, "A", 0x11)
            + line(3, "Child", 0x21))
    root, extra, kinds = fold(text)
    assert shape(root) == ["Root", [["Mac", [["A", [["Child", []]]]]]]]
    assert extra == {} and kinds == {"ioreg-dump-repeated-entry"}


def test_a_reprint_under_its_own_descendant_would_be_a_cycle_so_it_is_a_repeat() -> None:
    text = (ROOT + line(1, "Mac", 0x10) + line(2, "A", 0x11) + line(3, "B", 0x12)
            + line(4, "A", 0x11) + line(5, "C", 0x13))
    root, extra, kinds = fold(text)
    assert shape(root) == ["Root", [["Mac", [["A", [["B", []], ["C", []]]]]]]]
    assert extra == {} and kinds == {"ioreg-dump-repeated-entry"}


def test_an_entry_sharing_the_id_of_a_different_entry_is_kept_without_it() -> None:
    # Ids edited to one value (copied, zeroed) are not re-prints: every entry stays.
    text = (ROOT + line(1, "Mac", 0x100) + line(2, "A", 0x100) + line(3, "B", 0x100)
            + line(2, "C", 0x11) + line(3, "A", 0x100))
    root, extra, kinds = fold(text)
    assert shape(root) == ["Root", [["Mac", [["A", [["B", []]]], ["C", [["A", []]]]]]]]
    assert extra == {} and kinds == {"ioreg-dump-bad-id"}
    mac = root.children[0]
    assert mac.entry_id == 0x100 and mac.children[0].entry_id is None  # the first keeps it


def test_a_root_whose_only_child_repeats_it_is_refused_not_a_crash() -> None:
    text = ROOT + ROOT.replace("+-o", "  +-o")
    with pytest.raises(IoregDumpInvalid, match="no entries below it"):
        parse_dump(text, source="d.txt")
