"""Loops through plane links: each link to blame is found, in one search however many."""

from __future__ import annotations

from collections.abc import Iterator

from iokit_host.machine.links import find_loop, loop_links, overfull_link


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
