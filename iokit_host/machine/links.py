"""Loops through a model's extra plane links: IORegistryEntry refuses a link that would make a
plane's parents circular, so the model reader does too, naming the link to blame.

Extra parents without a loop can still make a plane enormous: ``ioreg`` (and IOKit's walk of a
plane) shows an entry, with all below it, under each of its parents, so a chain of nubs each
linked under the two before it is printed along exponentially many paths (forty nubs, a
hundred million lines). :func:`overfull_link` finds where a plane passes a bound."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["MAX_SHOWN", "find_loop", "loop_links", "overfull_link"]

#: The most entries a plane may show, counting an entry once under each of its parents (and
#: again under each of theirs): two and a half times the most nubs a model holds.
MAX_SHOWN = 500_000

#: One DFS frame: a nub, its parents still to follow, and the step (nub, link) that led to it.
_Frame = tuple[int, Iterator[tuple[int, int]], tuple[int, int]]


def find_loop(edges: dict[int, list[tuple[int, int]]]) -> tuple[int, int] | None:
    """A ``(nub, link number)`` whose link is part of a loop in ``edges`` (child -> parents
    with the link's number, -1 for the tree's own link), or None. Iterative DFS."""
    return next(loop_links(edges), None)


def loop_links(edges: dict[int, list[tuple[int, int]]]) -> Iterator[tuple[int, int]]:
    """The ``(nub, link number)`` of each link to drop, one after another, so that no loop
    is left: each closes a loop once those before it are gone (as calling :func:`find_loop`
    again after dropping each would find, without starting over). One DFS in all: a dropped
    link is skipped from then on, and what was explored stays explored (dropping a link
    makes no new loop), so the work is linear in the links, however many loops there are."""
    dropped: set[tuple[int, int]] = set()
    done: set[int] = set()
    for start, first in edges.items():
        if start in done:
            continue
        stack: list[_Frame] = [(start, iter(first), (start, -1))]
        on_path = {start}
        while stack:
            node, pending, _ = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
            elif (node, step[1]) in dropped:
                continue
            elif step[0] in on_path:
                blamed = _extra_link_in_loop(stack, step[0], (node, step[1]))
                dropped.add(blamed)
                yield blamed
                _unwind(stack, on_path, blamed)
            elif step[0] not in done:
                on_path.add(step[0])
                stack.append((step[0], iter(edges.get(step[0], ())), (node, step[1])))


def _unwind(stack: list[_Frame], on_path: set[int], blamed: tuple[int, int]) -> None:
    """Leave the nubs reached through the dropped link (when it is on the path, not the
    closing step): they are not explored, and may be reached again another way."""
    for depth, (_, _, via) in enumerate(stack):
        if via == blamed and depth:
            for node, _, _ in stack[depth:]:
                on_path.discard(node)
            del stack[depth:]
            return


def _extra_link_in_loop(stack: list[_Frame], top: int, closing: tuple[int, int]
                        ) -> tuple[int, int]:
    """The link to blame for the loop from ``top`` back to it: the closing step when it is a
    model link, else the nearest model link before it (tree links alone cannot loop)."""
    steps = [closing]
    for node, _, via in reversed(stack):
        if node == top:
            break
        steps.append(via)
    return next(step for step in steps if step[1] >= 0)


def overfull_link(edges: dict[int, list[tuple[int, int]]], limit: int = MAX_SHOWN
                  ) -> tuple[int, int] | None:
    """The ``(nub, link number)`` where the plane of ``edges`` (child -> parents with the
    link's number, -1 for the tree's own link) passes ``limit`` entries shown, or None.

    An entry is shown once along each path down to it (a nub with no parent here, once). The
    counts are summed in topological order (Kahn's), each capped just past ``limit``, so the
    work is linear in the links; the link blamed is the nub's last extra one (its tree link
    when it has none: then the extra links above it made the plane this large). Nubs in a
    loop are skipped: :func:`loop_links` reports those.
    """
    below: dict[int, list[int]] = {}
    waiting: dict[int, int] = {}
    for child, parents in edges.items():
        waiting[child] = len(parents)
        for parent, _ in parents:
            below.setdefault(parent, []).append(child)
            waiting.setdefault(parent, len(edges.get(parent, ())))
    shown = {node: 1 for node, count in waiting.items() if count == 0}
    ready = list(shown)
    total = 0
    while ready:
        node = ready.pop()
        total += shown[node]
        if total > limit:
            return node, max(number for _, number in edges.get(node, [(node, -1)]))
        for child in below.get(node, ()):
            shown[child] = min(shown.get(child, 0) + shown[node], limit + 1)
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    return None
