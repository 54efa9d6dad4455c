"""Loops through plane links: each link to blame is found, in one search however many."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.machine.links import UNWIND_BUDGET, find_loop, loop_links, overfull_link


class _Followed(list[tuple[int, int]]):
    """A nub's parents that count how often they are followed."""

    follows = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        _Followed.follows += 1
        return super().__iter__()


def test_each_loop_gives_one_link_and_the_search_is_done_once() -> None:
    pairs = 400
    edges: dict[int, list[tuple[int, int]]] = {}
    for pair in range(pairs):
        edges[2 * pair] = _Followed([(2 * pair + 1, 0)])
        edges[2 * pair + 1] = _Followed([(2 * pair, 0)])
    _Followed.follows = 0
    dropped = list(loop_links(edges))
    assert len(dropped) == pairs and len(set(dropped)) == pairs
    assert _Followed.follows <= 2 * len(edges)  # each nub's parents once, not once a loop
    kept = {nub: [step for step in parents if (nub, step[1]) not in dropped]
            for nub, parents in edges.items()}
    assert find_loop(kept) is None


def test_a_tree_link_is_never_blamed() -> None:
    # 1 is below 0 in the tree (-1); 0's extra link under 1 closes the loop: it is dropped.
    edges = {1: [(0, -1)], 0: [(1, 3)]}
    assert list(loop_links(edges)) == [(0, 3)]
    assert find_loop(edges) == (0, 3)


def test_a_link_on_the_path_dropped_leaves_the_rest_searched() -> None:
    # 0 -> 1 by an extra link, 1 -> 2 -> 0 by the tree: the extra link is to blame; with it
    # gone, 3's extra link under 0 loops nowhere, and 4's under itself does.
    edges = {0: [(1, 0)], 1: [(2, -1)], 2: [(0, -1)], 3: [(0, 0)], 4: [(4, 0)]}
    assert list(loop_links(edges)) == [(0, 0), (4, 0)]


def test_a_plane_shown_along_too_many_paths_is_found_in_one_pass() -> None:
    # Each nub below the one before it (the tree) and the one before that (an extra link):
    # nub n is shown fib(n) times; 200 nubs would show some 10**41 entries.
    edges: dict[int, list[tuple[int, int]]] = {1: _Followed([(0, -1)])}
    for nub in range(2, 200):
        edges[nub] = _Followed([(nub - 1, -1), (nub - 2, 0)])
    _Followed.follows = 0
    nub, number = overfull_link(edges, limit=1000)  # type: ignore[misc]
    assert number == 0 and nub < 20
    assert _Followed.follows <= 2 * len(edges)


def test_a_tree_or_a_few_second_parents_is_not_overfull() -> None:
    tree = {nub: [(nub - 1, -1)] for nub in range(1, 5000)}
    assert overfull_link(tree, limit=5000) is None
    tree[3].append((1, 0))  # 3 and all below it shown twice
    assert overfull_link(tree, limit=5000) == (2501, -1)  # 0 to 2 once, then twice
    assert overfull_link(tree, limit=10_000) is None


class _Counted(list[tuple[int, int]]):
    """A nub's parents that count every step taken through them."""

    steps = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for step in super().__iter__():
            _Counted.steps += 1
            yield step


def _dense(nubs: int) -> dict[int, list[tuple[int, int]]]:
    """Each nub below the one before it (the tree) and, by an extra link, below every other:
    each extra link up the tree closes a loop only through the tree's links."""
    return {nub: _Counted([*([(nub - 1, -1)] if nub else []),
                           *((other, other) for other in range(nubs) if other != nub)])
            for nub in range(nubs)}


def _no_loop_left(edges: dict[int, list[tuple[int, int]]],
                  dropped: list[tuple[int, int]]) -> bool:
    gone = set(dropped)
    return find_loop({nub: [step for step in parents if (nub, step[1]) not in gone]
                      for nub, parents in edges.items()}) is None


def test_a_dense_plane_is_searched_in_work_linear_in_its_links() -> None:
    # 300 nubs, 90,000 links: nubs reached through each dropped link were searched again from
    # their first parent, a path hundreds long per loop (12 million steps, 6 s at 400 nubs;
    # minutes for an archive of a hundred kilobytes).
    edges = _dense(300)
    links = sum(map(len, edges.values()))
    _Counted.steps = 0
    dropped = list(loop_links(edges))
    assert _Counted.steps <= (UNWIND_BUDGET + 2) * links
    assert all(number >= 0 for _, number in dropped)  # never a tree link
    assert _no_loop_left(edges, dropped)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 14).flatmap(lambda nubs: st.tuples(
    st.lists(st.integers(0, nubs - 1), min_size=nubs, max_size=nubs),
    st.lists(st.tuples(st.integers(0, nubs - 1), st.integers(0, nubs - 1)), max_size=60))))
def test_any_plane_is_left_without_loops_by_extra_links_alone(
        drawn: tuple[list[int], list[tuple[int, int]]]) -> None:
    # A tree (each nub below one with a smaller number) and any extra links, loops and
    # repeats included: what is dropped is extra, leaves no loop, and costs linear work.
    above, extra = drawn
    edges: dict[int, list[tuple[int, int]]] = {}
    for nub in range(1, len(above)):
        edges.setdefault(nub, _Counted()).append((above[nub] % nub, -1))
    for number, (child, parent) in enumerate(extra):
        edges.setdefault(child, _Counted()).append((parent, number))
    links = sum(map(len, edges.values()))
    _Counted.steps = 0
    dropped = list(loop_links(edges))
    assert _Counted.steps <= (UNWIND_BUDGET + 2) * links + len(edges)
    assert len(set(dropped)) == len(dropped) and all(number >= 0 for _, number in dropped)
    assert _no_loop_left(edges, dropped)
