"""Loops through a model's extra plane links: IORegistryEntry refuses a link that would make a
plane's parents circular, so the model reader does too, naming the link to blame."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["find_loop", "loop_links"]

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
