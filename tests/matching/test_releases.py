"""The OS release a machine records on its root, and how releases order and compare."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.matching.releases import OSRelease, release_of


def test_builds_order_as_apple_numbers_them() -> None:
    builds = ["13D65", "9L30", "12C60", "10D2063a", "11E2705", "10A432", "11A511", "12B13"]
    parsed = [OSRelease.from_build(b) for b in builds]
    assert all(p is not None for p in parsed)
    ordered = sorted(p for p in parsed if p is not None)
    assert [str(p) for p in ordered] == ["9L30", "10A432", "10D2063a", "11A511", "11E2705",
                                         "12B13", "12C60", "13D65"]


def test_distance_weighs_major_then_update_then_build() -> None:
    base = OSRelease.from_build("11G63")
    near, same_update, older_major = (OSRelease.from_build(b) for b in
                                      ("11E2705", "11G56", "10J869"))
    assert base is not None and near is not None and same_update is not None
    assert older_major is not None
    assert base.distance(same_update) < base.distance(near) < base.distance(older_major)
    # Only the Darwin major known: as near as any update of that major.
    assert OSRelease(11).distance(near) == (0, 0, 0)


def test_the_root_build_wins_and_the_kernel_version_is_the_fallback() -> None:
    kernel = ("Darwin Kernel Version 11.4.2: Thu Aug 23 16:25:48 PDT 2012; "
              "root:xnu-1699.32.7~1/RELEASE_X86_64")
    assert release_of({"OS Build Version": "11G63", "IOKitBuildVersion": kernel}) == \
        OSRelease(11, "G", 63)
    assert release_of({"IOKitBuildVersion": kernel}) == OSRelease(11)
    assert release_of({"OS Build Version": b"12C60\x00"}) == OSRelease(12, "C", 60)


def test_a_root_without_a_readable_release_records_none() -> None:
    assert release_of({}) is None
    assert release_of({"OS Build Version": "not a build", "IOKitBuildVersion": 7}) is None
    assert OSRelease.from_build("") is None and OSRelease.from_build("12") is None


_VALUES = st.one_of(st.text(max_size=40), st.binary(max_size=40), st.integers(), st.none(),
                    st.sampled_from(["12C60", "10D2063a", "99Z99999", "Darwin Kernel Version 9.",
                                     "Darwin Kernel Version 123456789.0"]))


@settings(max_examples=150, deadline=None)
@given(build=_VALUES, kernel=_VALUES)
def test_any_root_values_read_as_a_release_or_none(build: object, kernel: object) -> None:
    release = release_of({"OS Build Version": build, "IOKitBuildVersion": kernel})
    assert release is None or isinstance(release.darwin, int)
