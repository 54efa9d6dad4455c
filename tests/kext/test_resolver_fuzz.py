"""Fuzzing dependency resolution: any graph of OSBundleLibraries (cycles, self-links, missing
and codeless libraries, versions at the edges of the rules) resolves without an exception,
in an order that puts every library before what links against it, the same whatever order
the kexts were found in; each kext is loaded or refused, and nothing loaded links against a
refused kext."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.manifest import parse_info
from iokit_host.kext.resolver import resolve

IDS = [f"k{number}" for number in range(6)]
VERSIONS = st.sampled_from(["1.0", "1.0.0", "2", "0", "0.0.0", "99999.99.99", "100000",
                            "1.0d1", "1.0a255", "1.0b1", "1.0fc3", "1.0.0f", "01.2", "1..0",
                            "1.0.0.0", "", " 1", "1.100", "-1"])
LIBRARIES = st.dictionaries(st.sampled_from([*IDS, *IDS, *IDS, "com.apple.kpi.iokit",
                                             "gone.lib", "com.apple.kernel"]),
                            st.sampled_from(["9.0", "1.0", "0"]) | VERSIONS, max_size=4)


@st.composite
def _kexts(draw: st.DrawFn) -> list[KextBundle]:
    bundles = []
    for bundle_id in draw(st.lists(st.sampled_from(IDS), max_size=8)):
        info: dict[str, Any] = {"CFBundleIdentifier": bundle_id,
                                "CFBundleVersion": draw(VERSIONS),
                                "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0",
                                                      **draw(LIBRARIES)}}
        if draw(st.booleans()):
            info["OSBundleCompatibleVersion"] = draw(st.sampled_from(["1.0", "0"]) | VERSIONS)
        code = draw(st.booleans())
        bundle, _ = parse_info(info, package=bundle_id if code else None)
        if bundle is not None:  # a manifest refused whole is the manifest tests' concern
            bundles.append(bundle)
    return bundles


@settings(max_examples=300, deadline=None)
@given(_kexts(), st.randoms(use_true_random=False))
def test_any_library_graph_resolves_in_dependency_order(bundles: list[KextBundle],
                                                        shuffle: Any) -> None:
    result = resolve(bundles)
    loaded = [bundle.bundle_id for bundle in result.load_order]
    assert len(loaded) == len(set(loaded))
    assert set(loaded) | set(result.refused) == {bundle.bundle_id for bundle in bundles}
    assert not set(loaded) & set(result.refused)
    builtin = {bundle.bundle_id for bundle in result.builtin}  # loaded already
    for position, bundle_id in enumerate(loaded):
        for library in result.dependencies(bundle_id):
            assert library not in result.refused
            assert library in builtin or library in loaded[:position], (bundle_id, loaded)
    for refused in result.refused.values():
        assert refused.reference.startswith("kext-") and refused.hint
    again = list(bundles)
    shuffle.shuffle(again)
    other = resolve(again)
    if len({b.bundle_id for b in bundles}) == len(bundles):  # duplicates: the first found wins
        assert [b.bundle_id for b in other.load_order] == loaded
        assert set(other.refused) == set(result.refused)
