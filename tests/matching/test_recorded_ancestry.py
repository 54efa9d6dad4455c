"""A machine's recorded class chains as its ancestry: the first superclass of each class
kept, and each link left out that would close a loop or make a chain longer than any of
IOKit's, so a damaged record costs only those links."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from iokit_host.matching.classes import MAX_CLASS_DEPTH, STANDARD_CLASSES
from iokit_host.matching.recorded_ancestry import acyclic_ancestry


def _longest(kept: dict[str, str]) -> int:
    """The longest chain from a recorded class, standard links above the recorded ones (as
    the model reader counts), each class walked once."""
    effective = {**STANDARD_CLASSES, **kept}
    lengths: dict[str, int] = {}
    for name in effective:
        path, current = [], name
        while current is not None and current not in lengths:
            assert current not in path, f"a loop through {current}"
            path.append(current)
            current = effective.get(current)
        base = lengths.get(current, 0) if current is not None else 0
        for offset, link in enumerate(reversed(path), start=1):
            lengths[link] = base + offset
    return max((lengths[name] for name in kept), default=0)


def test_recorded_links_that_close_a_loop_are_left_out() -> None:
    kept, refused = acyclic_ancestry([("A", "B"), ("B", "C"), ("C", "A"), ("D", "D"),
                                      ("A", "Z"), ("E", "B")])
    assert kept == {"A": "B", "B": "C", "E": "B"}
    assert refused == [("C", "A", "would make A its own ancestor"),
                       ("D", "D", "would make D its own ancestor")]


def test_a_loop_longer_than_any_chain_is_broken_too() -> None:
    """A ring of 300 classes went unseen (the walk stopped at 256 links) and the imported
    model's reader refused the whole machine for it."""
    ring = [(f"K{i}", f"K{(i + 1) % 300}") for i in range(300)]
    kept, refused = acyclic_ancestry(ring)
    assert len(refused) == 2 and len(kept) == 298
    assert _longest(kept) <= MAX_CLASS_DEPTH


def test_a_chain_longer_than_any_of_iokits_is_cut_within_the_bound() -> None:
    chain = ["X", *(f"C{i}" for i in range(300)), "IOService"]
    kept, refused = acyclic_ancestry(list(pairwise(chain)))
    (child, _, why) = refused[0]
    assert len(refused) == 1 and why == "would make the class chain of X more than 256 " \
        "classes long"
    assert kept["X"] == "C0" and child not in kept  # X keeps its own superclass
    assert _longest(kept) == MAX_CLASS_DEPTH


@given(st.lists(st.tuples(st.sampled_from([f"N{i}" for i in range(40)] + ["IOService"]),
                          st.sampled_from([f"N{i}" for i in range(40)] + ["IOService"])),
                max_size=120),
       st.integers(min_value=2, max_value=12))
def test_any_record_keeps_first_links_without_loops_or_overlong_chains(
        links: list[tuple[str, str]], bound: int) -> None:
    kept, refused = acyclic_ancestry(links, STANDARD_CLASSES, bound + 3)
    first: dict[str, str] = {}
    for name, superclass in links:
        first.setdefault(name, superclass)
    # every kept link is a first link, and every first link is kept or refused with why
    assert all(first[name] == superclass for name, superclass in kept.items())
    assert {n for n, _, _ in refused} | set(kept) == set(first)
    assert _longest(kept) <= bound + 3


def test_a_chain_of_100000_recorded_classes_is_cut_into_bounded_pieces() -> None:
    chain = [*(f"C{i}" for i in range(100_000)), "IOService"]
    for links in (list(pairwise(chain)),
                  list(reversed(list(pairwise(chain))))):
        kept, refused = acyclic_ancestry(links)
        assert _longest(kept) <= MAX_CLASS_DEPTH
        assert len(refused) < 100_000 // 200  # a cut per ~256 classes, no more
