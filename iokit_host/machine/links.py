"""Loops through a model's extra plane links: IORegistryEntry refuses a link that would make a
plane's parents circular, so the model reader does too, naming the link to blame."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["find_loop"]


def find_loop(edges: dict[int, list[tuple[int, int]]]) -> tuple[int, int] | None:
    """A ``(nub, link number)`` whose link is part of a loop in ``edges`` (child -> parents
    with the link's number, -1 for the tree's own link), or None. Iterative DFS."""
    done: set[int] = set()
    for start, first in edges.items():
        if start in done:
            continue
        # Each frame: a nub, its parents still to follow, and the step that led to it.
        stack: list[tuple[int, Iterator[tuple[int, int]], tuple[int, int]]] = [
            (start, iter(first), (start, -1))]
        on_path = {start}
        while stack:
            node, pending, _ = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
            elif step[0] in on_path:
                return _extra_link_in_loop(stack, step[0], (node, step[1]))
            elif step[0] not in done:
                on_path.add(step[0])
                stack.append((step[0], iter(edges.get(step[0], ())), (node, step[1])))
    return None


def _extra_link_in_loop(stack: list[tuple[int, Iterator[tuple[int, int]], tuple[int, int]]],
                        top: int, closing: tuple[int, int]) -> tuple[int, int]:
    """The link to blame for the loop from ``top`` back to it: the closing step when it is a
    model link, else the nearest model link before it (tree links alone cannot loop)."""
    steps = [closing]
    for node, _, via in reversed(stack):
        if node == top:
            break
        steps.append(via)
    return next(step for step in steps if step[1] >= 0)
