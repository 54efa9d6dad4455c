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

#: Nubs :func:`loop_links` may leave (and reach again) per link before it drops the rest of
#: a plane's extra links at once: a plane of real loops leaves a handful.
UNWIND_BUDGET = 8

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
    makes no new loop), so the work is linear in the links, however many loops there are.
    Each loop costs a constant: the link to blame is found from where each nub on the path
    sits and the nearest model link kept for each depth, not by walking the path back (a
    dense archive closes hundreds of thousands of loops on a path hundreds of nubs long);
    a nub left when a link on the path is dropped resumes its parents where it stopped
    (the one it was following again) when it is reached again, not from the first.

    Nubs left are reached again, though: where the tree's links close loops through many
    extra ones (a dense plane: nubs on a path hundreds long left once a link), that is work
    cubic in the nubs. Past :data:`UNWIND_BUDGET` nubs left per link, the search stops and
    every extra link of a nub it has not finished is dropped at once: what it finished keeps
    no loop, and tree links alone make none, so none is left (more dropped than needed, only
    for such a plane)."""
    dropped: set[tuple[int, int]] = set()
    done: set[int] = set()
    budget = UNWIND_BUDGET * (sum(map(len, edges.values())) + 1)
    # Nubs left unfinished: their parents still to follow, from the one they were following.
    left_at: dict[int, Iterator[tuple[int, int]]] = {}
    for start, first in edges.items():
        if start in done:
            continue
        resumed = left_at.pop(start) if start in left_at else iter(first)
        stack: list[_Frame] = [(start, resumed, (start, -1))]
        depth_of = {start: 0}  # the nubs on the path, by depth
        # Per depth, the depth of the nearest frame at or below it reached by a model link.
        model_at = [-1]
        while stack:
            node, pending, _ = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                model_at.pop()
                del depth_of[node]
                done.add(node)
            elif (node, step[1]) in dropped:
                continue
            elif step[0] in depth_of:
                # The closing step when it is a model link, else the nearest model link on
                # the path above the nub it returns to (tree links alone cannot loop).
                at = -1 if step[1] >= 0 else model_at[-1]
                on_path = at > depth_of[step[0]]
                blamed = stack[at][2] if on_path else (node, step[1])
                dropped.add(blamed)
                yield blamed
                if on_path:  # leave the nubs reached through it: they may be reached again
                    budget -= len(stack) - at
                    if budget < 0:
                        yield from _unfinished_links(edges, done, dropped)
                        return
                    following = [*((above, via[1]) for above, _, via in stack[at + 1:]), step]
                    for (left, rest, _), last in zip(stack[at:], following, strict=True):
                        del depth_of[left]
                        left_at[left] = _Resumed.at(last, rest)
                    del stack[at:], model_at[at:]
            elif step[0] not in done:
                depth_of[step[0]] = len(stack)
                model_at.append(len(stack) if step[1] >= 0 else model_at[-1])
                parents = (left_at.pop(step[0]) if step[0] in left_at
                           else iter(edges.get(step[0], ())))
                stack.append((step[0], parents, (node, step[1])))


def _unfinished_links(edges: dict[int, list[tuple[int, int]]], done: set[int],
                      dropped: set[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Every extra link (not dropped yet) of the nubs :func:`loop_links` did not finish."""
    for node, parents in edges.items():
        if node not in done:
            for _, number in parents:
                if number >= 0 and (node, number) not in dropped:
                    dropped.add((node, number))
                    yield node, number


class _Resumed:
    """A nub's parents still to follow, starting with the one it was following when it was
    left: one object however often the nub is left (nested wrappers would cost a call each
    per step, and a C stack frame each)."""

    __slots__ = ("again", "rest")

    def __init__(self, again: tuple[int, int], rest: Iterator[tuple[int, int]]) -> None:
        self.again: tuple[int, int] | None = again
        self.rest = rest

    @classmethod
    def at(cls, again: tuple[int, int], rest: Iterator[tuple[int, int]]) -> _Resumed:
        if isinstance(rest, _Resumed):
            rest.again = again  # it gave its own again already: the nub followed it
            return rest
        return cls(again, rest)

    def __iter__(self) -> _Resumed:
        return self

    def __next__(self) -> tuple[int, int]:
        again = self.again
        if again is None:
            return next(self.rest)
        self.again = None
        return again


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
