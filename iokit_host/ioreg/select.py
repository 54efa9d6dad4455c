"""Which parts of a plane ioreg prints: the whole tree, or with ``-r`` the matched subtrees.

This is ioreg's ``search``: walking from Root, an entry that matches the criteria is printed
with its whole subtree (its descendants are not searched separately, they are in it); an
entry that does not match is searched through. With ``-t`` each subtree keeps its ancestors
and its absolute depth, and ``-d`` counts from Root; without ``-t`` it counts from the match.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from iokit_sdk.entry import IORegistryEntry

from iokit_host.ioreg.options import IoregOptions
from iokit_host.registry import IORegistry

__all__ = ["Subtree", "build_trees", "children", "subtrees"]


@dataclass(frozen=True, slots=True)
class Subtree:
    """One printed tree: ``entry`` at ``depth``, below ``ancestors`` (Root first; ``-t``)."""

    entry: IORegistryEntry
    ancestors: tuple[IORegistryEntry, ...] = ()
    depth: int = 0
    depth_limit: int = 0


def subtrees(registry: IORegistry, options: IoregOptions) -> list[Subtree]:
    """The trees to print, in walk order."""
    if not options.root:
        return [Subtree(registry.root, depth_limit=options.depth)]
    found: list[Subtree] = []
    # Depth-first over non-matching entries, as the text walk: ``path`` holds the entries
    # above the next visit and a bare int marks leaving the entry with that id. A copy of the
    # path per entry made searching a chain thousands deep quadratic (8,000 levels: 2 s).
    path: list[IORegistryEntry] = []
    on_path: set[int] = set()
    stack: list[IORegistryEntry | int] = [registry.root]
    while stack:
        entry = stack.pop()
        if isinstance(entry, int):
            on_path.discard(entry)
            path.pop()
            continue
        if options.matches(entry):
            found.append(_subtree(entry, path, options))
            continue
        on_path.add(id(entry))
        path.append(entry)
        stack.append(id(entry))
        stack.extend(reversed(children(entry, options.plane, on_path)))
    return found


def _subtree(entry: IORegistryEntry, path: list[IORegistryEntry],
             options: IoregOptions) -> Subtree:
    if not options.tree:
        return Subtree(entry, depth_limit=options.depth)
    limit = options.depth + len(path) if options.depth > 0 else 0
    return Subtree(entry, tuple(path), len(path), limit)


def children(entry: IORegistryEntry, plane: str,
             exclude: Container[int] = ()) -> tuple[IORegistryEntry, ...]:
    """Children in attach order, leaving out those whose ``id()`` is in ``exclude``.

    ``exclude`` holds the entries on the current path: a registry with a link cycle is a
    bug elsewhere, but ioreg's output must still end.
    """
    kids = entry.get_child_entries(plane)
    if not kids or not exclude:
        return kids
    return tuple(kid for kid in kids if id(kid) not in exclude)


def build_trees(registry: IORegistry, options: IoregOptions,
                make_node: Callable[[IORegistryEntry], dict[str, Any]],
                children_key: str) -> list[dict[str, Any]]:
    """One nested dict per selected tree, for the archive and JSON outputs.

    ``make_node`` builds an entry's dict; its shown children are appended under
    ``children_key`` (created on the first child). With ``-t`` each tree is wrapped in its
    ancestors' dicts, each holding only the next one, as ``ioreg -a -r -t`` writes them.
    """
    trees: list[dict[str, Any]] = []
    for subtree in subtrees(registry, options):
        top = node = _build(subtree, options, make_node, children_key)
        for ancestor in reversed(subtree.ancestors):
            top = make_node(ancestor)
            top[children_key] = [node]
            node = top
        trees.append(top)
    return trees


def _build(subtree: Subtree, options: IoregOptions,
           make_node: Callable[[IORegistryEntry], dict[str, Any]],
           children_key: str) -> dict[str, Any]:
    root = make_node(subtree.entry)
    on_path: set[int] = set()
    # Iterative, like the text walk: a deep registry must not hit Python's recursion limit.
    stack: list[tuple[IORegistryEntry, dict[str, Any], int] | int] = [
        (subtree.entry, root, subtree.depth)]
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            on_path.discard(item)
            continue
        entry, node, depth = item
        if not options.expands(depth, subtree.depth_limit):
            continue
        on_path.add(id(entry))
        stack.append(id(entry))
        pending = []
        for kid in children(entry, options.plane, on_path):
            kid_node = make_node(kid)
            node.setdefault(children_key, []).append(kid_node)
            pending.append((kid, kid_node, depth + 1))
        stack.extend(reversed(pending))
    return root
