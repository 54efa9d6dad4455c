"""The kernel collection: cold and warm boots agree; any damaged, foreign or ill-typed cache file
is rebuilt with a note; an edit is noticed; a collection that cannot be written is a warning.

The site directories are laid out as an installer leaves them (a ``.dist-info`` with
``entry_points.txt``, the package with its Info.plist), which is all discovery reads.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import plistlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.errors import Severity
from iokit_host.input_file import MAX_CACHE_FILES
from iokit_host.kext import collection
from iokit_host.kext.discovery import Discovery, DistributionRecord, discover, scan
from tests.kext.dists import info_plist, write_installed

ID = "com.example.tricky"
PERSONALITY = {
    "IOProviderClass": "IOPCIDevice", "IOClass": "Tricky", "IOPCIMatch": "0x43318086",
    "IOProbeScore": 100,
    "LooksTagged": {"$data": "AAAA"},  # a <dict> whose one key is the old cache's data tag
    "AlsoTagged": [{"$date": "2020-01-01T00:00:00"}, {"$dict": {}}],
    "Blob": b"\x00\xff", "Flag": True, "One": 1, "Nested": {"a": [{"b": b"x"}]},
}


def _site(root: Path) -> Path:
    return write_installed(root, {
        "tricky-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tricky\nVersion: 1.0\n",
        "tricky-1.0.dist-info/entry_points.txt": f"[iokit.kexts]\n{ID} = tricky\n".encode(),
        "tricky/__init__.py": b"",
        "tricky/Info.plist": info_plist(ID, "1.0", personalities={"Tricky": PERSONALITY}),
    })


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _site(tmp_path_factory.mktemp("site"))


def _discover(site: Path, cache: Path) -> Discovery:
    return discover(path=[str(site)], cache_dir=cache)


def _refs(found: Discovery) -> list[str]:
    return [d.reference for d in found.diagnostics]


def test_cold_and_warm_boots_agree_on_values_that_look_like_tags(site: Path,
                                                                 tmp_path: Path) -> None:
    cold, warm = _discover(site, tmp_path), _discover(site, tmp_path)
    assert (cold.cache_status, warm.cache_status) == ("rebuilt", "fresh")
    assert warm.bundles == cold.bundles and warm.diagnostics == cold.diagnostics
    personality = warm.find(ID)[0].personalities["Tricky"]
    assert personality["LooksTagged"] == {"$data": "AAAA"}  # a dictionary, not bytes
    assert personality["AlsoTagged"] == [{"$date": "2020-01-01T00:00:00"}, {"$dict": {}}]
    assert personality["Blob"] == b"\x00\xff" and personality["Flag"] is True
    assert warm.find(ID)[0].info["CFBundleVersion"] == "1.0"


def test_info_plist_edited_in_place_with_size_and_mtime_put_back(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    assert _discover(site, tmp_path).cache_status == "rebuilt"
    plist = site / "tricky" / "Info.plist"
    status = plist.stat()
    plist.write_bytes(plist.read_bytes().replace(b"0x43318086", b"0x43318087"))
    os.utime(plist, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert (plist.stat().st_size, plist.stat().st_mtime_ns) == (status.st_size,
                                                                 status.st_mtime_ns)
    again = _discover(site, tmp_path)
    assert again.cache_status == "rebuilt"
    assert again.find(ID)[0].personalities["Tricky"]["IOPCIMatch"] == "0x43318087"


def test_info_plist_added_later_to_a_declared_package(tmp_path: Path) -> None:
    site = write_installed(tmp_path / "site", {
        "late-1.0.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.late = late\n",
        "late/__init__.py": b""})
    first = _discover(site, tmp_path)
    assert "kext-manifest-not-found" in _refs(first) and not first.bundles
    (site / "late" / "Info.plist").write_bytes(info_plist("com.example.late"))
    assert [b.bundle_id for b in _discover(site, tmp_path).bundles] == ["com.example.late"]


# -- a cache file that is not what this host writes --------------------------------------------
def _assert_rebuilt_with_note(found: Discovery, expected: Discovery) -> None:
    assert found.cache_status == "rebuilt"
    assert found.bundles == expected.bundles
    notes = [d for d in found.diagnostics if d.reference == "kernel-collection-invalid"]
    assert len(notes) == 1 and notes[0].severity is Severity.WARNING
    assert found.diagnostics[:-1] == expected.diagnostics  # the note is all that is added


@pytest.fixture(scope="module")
def expected(site: Path) -> Discovery:
    return discover(path=[str(site)], use_cache=False)


@pytest.fixture(scope="module")
def valid_document(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cache = tmp_path_factory.mktemp("valid")
    found = _discover(site, cache)
    assert found.cache_path is not None
    document: dict[str, Any] = json.loads(Path(found.cache_path).read_bytes())
    return document


def _write_cache(site: Path, cache: Path, data: bytes) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    collection.collection_path(cache, [str(site)]).write_bytes(data)


@pytest.mark.parametrize("data", [
    b"", b"\xff\xfe", b"{", b"null", b"[]", b'{"format": 1}', b'{"format": 2}',
    b"[" * 5000 + b"]" * 5000, b'{"format": 2, "n": 1' + b"0" * 5000 + b"}",
])
def test_damaged_cache_files(site: Path, tmp_path: Path, expected: Discovery,
                             data: bytes) -> None:
    _write_cache(site, tmp_path, data)
    _assert_rebuilt_with_note(_discover(site, tmp_path), expected)
    assert _discover(site, tmp_path).cache_status == "fresh"  # and the rebuilt one is good


def test_collection_of_the_previous_format(site: Path, tmp_path: Path,
                                           expected: Discovery) -> None:
    old = {"header": {"format": 1}, "distributions": []}
    _write_cache(site, tmp_path, json.dumps(old).encode())
    found = _discover(site, tmp_path)
    _assert_rebuilt_with_note(found, expected)
    assert "format: null; this host reads format 2" in found.diagnostics[-1].message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_any_bytes_as_the_cache_file(site: Path, expected: Discovery,
                                     tmp_path_factory: pytest.TempPathFactory,
                                     data: bytes) -> None:
    cache = tmp_path_factory.getbasetemp() / "fuzz-bytes"
    _write_cache(site, cache, data)
    _assert_rebuilt_with_note(_discover(site, cache), expected)


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=JSON)
def test_any_json_as_the_cache_file(site: Path, expected: Discovery,
                                    tmp_path_factory: pytest.TempPathFactory,
                                    document: Any) -> None:
    cache = tmp_path_factory.getbasetemp() / "fuzz-json"
    _write_cache(site, cache, json.dumps(document).encode())
    _assert_rebuilt_with_note(_discover(site, cache), expected)


def _schema_fields(document: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every field the layout types, not descending into plist values."""
    found: list[tuple[tuple[Any, ...], Any]] = []
    pending: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while pending:
        path, value = pending.pop()
        if path:
            found.append((path, value))
        if path and path[-1] in ("personalities", "info"):
            continue  # plist values: any JSON kind is a valid value there
        if isinstance(value, dict):
            pending.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend(((*path, i), v) for i, v in enumerate(value))
    return found


_KINDS = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=4), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choice=st.data())
def test_a_field_of_the_wrong_type_means_rebuilt_with_a_note(
        site: Path, expected: Discovery, valid_document: dict[str, Any],
        tmp_path_factory: pytest.TempPathFactory, choice: st.DataObject) -> None:
    # A null is left alone: the other kind its field allows is valid in its place.
    fields = [(path, old) for path, old in _schema_fields(valid_document) if old is not None]
    path, old = choice.draw(st.sampled_from(fields))
    new = choice.draw(_KINDS.filter(lambda v: _kind(v) != _kind(old)))
    document = copy.deepcopy(valid_document)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    cache = tmp_path_factory.getbasetemp() / "fuzz-shape"
    _write_cache(site, cache, json.dumps(document).encode())
    _assert_rebuilt_with_note(_discover(site, cache), expected)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# -- a collection that cannot be written ---------------------------------------------------------
@pytest.mark.parametrize("where", ["parent-is-a-file", "target-is-a-directory", "read-only",
                                   "name-too-long"])
def test_unwritable_collection_is_a_warning_and_discovery_goes_on(
        site: Path, tmp_path: Path, expected: Discovery, where: str) -> None:
    cache = tmp_path / "cache"
    if where == "parent-is-a-file":
        cache.write_text("")
        cache = cache / "sub"
    elif where == "target-is-a-directory":  # a full disk cannot be made; this fails as late
        collection.collection_path(cache, [str(site)]).mkdir(parents=True)
    elif where == "name-too-long":  # IOKIT_CACHE_DIR=<5000 characters> stopped every boot
        cache = tmp_path / ("a" * 300) / "sub"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes to a read-only directory")
        cache.mkdir()
        cache.chmod(0o555)
    found = _discover(site, cache)
    assert found.cache_status == "unwritable" and found.bundles == expected.bundles
    problem = found.diagnostics[-1]
    assert problem.reference == "kernel-collection-unwritable"
    assert problem.severity is Severity.WARNING
    assert not list(tmp_path.rglob(".kc-*"))  # no temporary file left behind


@pytest.mark.parametrize("planted", ["fifo", "symlink-to-dev-zero", "sparse-3-GB"])
def test_something_the_host_cannot_have_written_is_not_read(
        site: Path, tmp_path: Path, expected: Discovery, planted: str) -> None:
    # A FIFO at the collection's name hung every boot; a link to /dev/zero filled memory.
    target = collection.collection_path(tmp_path, [str(site)])
    tmp_path.mkdir(exist_ok=True)
    if planted == "fifo":
        os.mkfifo(target)
    elif planted == "symlink-to-dev-zero":
        target.symlink_to("/dev/zero")
    else:
        with open(target, "wb") as stream:
            stream.truncate(3 << 30)
    found = _discover(site, tmp_path)
    _assert_rebuilt_with_note(found, expected)
    assert _discover(site, tmp_path).cache_status == "fresh"  # replaced by a real collection


def test_a_cache_folder_that_is_a_file_is_named_in_the_warning(
        site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("")
    problem = _discover(site, cache).diagnostics[-1]
    assert problem.reference == "kernel-collection-unwritable"
    assert f"{cache}: it exists and is not a folder" in problem.message  # not "File exists"


@pytest.mark.parametrize("below", ["", "sub"])
def test_a_cache_folder_that_is_a_loop_of_links_says_so(
        site: Path, tmp_path: Path, below: str) -> None:
    # It was "cache is not a folder", and a note that the collection could not be read.
    loop = tmp_path / "cache"
    loop.symlink_to(loop)
    diagnostics = _discover(site, loop / below if below else loop).diagnostics
    [problem] = [d for d in diagnostics if d.reference.startswith("kernel-collection")]
    assert problem.reference == "kernel-collection-unwritable"
    assert f"{loop}: {os.strerror(errno.ELOOP)}" in problem.message


def test_only_the_most_recently_written_collections_are_kept(
        site: Path, tmp_path: Path, expected: Discovery) -> None:
    # One per interpreter and sys.path, never removed: every venv and folder left one.
    tmp_path.mkdir(exist_ok=True)
    for number in range(MAX_CACHE_FILES + 8):
        old = tmp_path / f"kernel-collection-{number:016x}.json"
        old.write_text("{}")
        os.utime(old, ns=(number * 10**9, number * 10**9))
    assert _discover(site, tmp_path).bundles == expected.bundles
    kept = sorted(p.name for p in tmp_path.glob("kernel-collection-*.json"))
    assert len(kept) == MAX_CACHE_FILES
    assert f"kernel-collection-{0:016x}.json" not in kept  # the oldest went first
    assert _discover(site, tmp_path).cache_status == "fresh"  # the one just written stays


def test_a_value_that_cannot_be_stored_is_a_warning(site: Path, tmp_path: Path) -> None:
    records = scan(path=[str(site)])
    kext = records[0].kexts[0]
    assert kext.bundle is not None
    odd = kext.bundle.__class__(**{**{f: getattr(kext.bundle, f) for f in (
        "bundle_id", "version", "version_value")}, "personalities": {"P": {"x": {1, 2}}}})
    broken = (DistributionRecord(records[0].info, records[0].stamps,
                                 (kext.__class__(kext.entry_point, kext.package, kext.manifest,
                                                 odd, ()),)),)
    target = collection.collection_path(tmp_path, [str(site)])
    problem = collection.write(target, broken, path=[str(site)])
    assert problem is not None and problem.reference == "kernel-collection-unwritable"
    assert "set is not a plist value" in problem.message
    assert not target.exists() and not list(tmp_path.glob(".kc-*"))


def test_collection_is_readable_by_every_user(site: Path, tmp_path: Path) -> None:
    found = _discover(site, tmp_path)
    assert found.cache_path is not None
    assert os.stat(found.cache_path).st_mode & 0o777 == 0o644


def test_binary_plist_values_round_trip(tmp_path: Path) -> None:
    info = plistlib.loads(info_plist(ID, personalities={"Tricky": PERSONALITY}))
    site = write_installed(tmp_path / "site", {
        "tricky-1.0.dist-info/entry_points.txt": f"[iokit.kexts]\n{ID} = tricky\n".encode(),
        "tricky/Info.plist": plistlib.dumps(info, fmt=plistlib.FMT_BINARY)})
    cold, warm = _discover(site, tmp_path), _discover(site, tmp_path)
    assert warm.cache_status == "fresh" and warm.bundles == cold.bundles
