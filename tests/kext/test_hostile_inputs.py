"""Inputs a hostile-input hunt found mishandled: each test states what a user now sees."""

from __future__ import annotations

import glob
import json
import os
import plistlib
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext import install_index, kpi, plistxml
from iokit_host.kext.discovery import discover
from iokit_host.kext.manifest import read_plist_file
from iokit_host.kext.placeholders import expand
from iokit_host.kext.plistshape import PlistShapeError
from iokit_host.kext.plistvalues import UnreadableValue
from iokit_host.kext.refusals import count_refusals
from iokit_host.kext.stamps import FileStamp
from tests.kext.dists import info_plist, write_installed

HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">'
#: A <date> sends a document to the careful reader; without it the fast path reads it.
CAREFUL = b"<key>D</key><date>2020-01-01T00:00:00Z</date>"


def _doc(body: bytes, careful: bool) -> bytes:
    return HEAD + b"<dict>" + (CAREFUL if careful else b"") + body + b"</dict></plist>"


def _manifest(tmp_path: Path, data: bytes) -> tuple[Any, list[Diagnostic]]:
    path = tmp_path / "Info.plist"
    path.write_bytes(data)
    return read_plist_file(path)


# -- 1: a NUL in a cached file name ------------------------------------------------------------
def test_a_stamp_whose_name_holds_nul_is_stale_not_a_crash() -> None:
    assert FileStamp("/tmp/a\0b", 1, 2, 3).is_current() is False


def _site(root: Path) -> Path:
    return write_installed(root, {
        "nulkext-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: nulkext\nVersion: 1.0\n",
        "nulkext-1.0.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.nul = nulkext\n",
        "nulkext/__init__.py": b"",
        "nulkext/Info.plist": info_plist("com.example.nul", "1.0", personalities={
            "P": {"IOProviderClass": "IOResources", "IOClass": "X", "IOProbeScore": 1}}),
    })


def _forge(cache: Path, change: Any) -> None:
    target = next(cache.glob("kernel-collection-*.json"))
    document = json.loads(target.read_bytes())
    change(document)
    target.write_text(json.dumps(document))


def _personalities(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for r in document["distributions"] for k in r["kexts"] if k["bundle"]
            for p in k["bundle"]["personalities"].values()]


def _set_score(value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        for personality in _personalities(document):
            personality["IOProbeScore"] = value
    return change


def _nul_in_watch(document: dict[str, Any]) -> None:
    document["watch"][0][0] = "/tmp/a\0b"


def _nul_in_stamp(document: dict[str, Any]) -> None:
    document["distributions"][0]["stamps"][0][0] = "/tmp/a\0b"


@pytest.mark.parametrize("change", [_nul_in_watch, _nul_in_stamp, _set_score(1.5),
                                    _set_score(10 ** 30), _set_score(-(1 << 63) - 1)])
def test_a_forged_collection_is_rebuilt_with_a_note(tmp_path: Path, change: Any) -> None:
    site, cache = _site(tmp_path / "site"), tmp_path / "cache"
    cold = discover(path=[str(site)], cache_dir=cache)
    _forge(cache, change)
    found = discover(path=[str(site)], cache_dir=cache)
    assert found.cache_status == "rebuilt"
    assert found.bundles == cold.bundles
    assert [d.reference for d in found.diagnostics].count("kernel-collection-invalid") == 1
    assert discover(path=[str(site)], cache_dir=cache).cache_status == "fresh"


def test_an_install_index_with_nul_is_walked_again_and_mended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOKIT_NO_CACHE", raising=False)
    cache = tmp_path / "cache"
    walked = install_index.host_plugins(cache).found
    target = install_index.index_path("host-plugins", cache)
    document = json.loads(target.read_bytes())
    document["watch"][0][0] += "\0x"
    target.write_text(json.dumps(document))
    assert install_index.host_plugins(cache).found == walked
    install_index.refresh(cache)  # what `iokit kmutil create` does
    assert "\\u0000" not in target.read_text()


# -- 2: a flood of keys -----------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"<array>%s</array>", b"<dict>%s</dict>"])
def test_millions_of_keys_are_refused_before_a_tree_is_built(body: bytes) -> None:
    keys = b"<key>k</key>" * (2 * 262144 + 64)
    started = time.perf_counter()
    with pytest.raises(PlistShapeError) as raised:
        plistxml.loads(HEAD + body % keys + b"</plist>")
    assert raised.value.reference == "plist-value-too-large"
    assert time.perf_counter() - started < 20  # a tree of them took minutes and gigabytes


# -- 3: refusals count plist-* errors ---------------------------------------------------------
def test_a_manifest_refused_for_its_shape_is_counted(tmp_path: Path) -> None:
    deep = b"<array>" * 200 + b"</array>" * 200
    bundle, found = _manifest(tmp_path, _doc(b"<key>X</key>" + deep, careful=False))
    assert bundle is None and found[0].reference == "plist-value-too-deep"
    assert count_refusals(found, lambda bundle_id, key: None) == 1


# -- 4: one <integer> grammar, CoreFoundation's -----------------------------------------------
@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize(("text", "value"), [
    ("+5", 5), (" - 0x10", -16), ("0x00", 0), ("0" * 70 + "5", 5), ("-9223372036854775808",
                                                                   -(1 << 63)),
    ("18446744073709551615", (1 << 64) - 1),
])
def test_integers_corefoundation_reads(text: str, value: int, careful: bool) -> None:
    body = f"<key>N</key><integer>{text}</integer>".encode()
    assert plistxml.loads(_doc(body, careful))["N"] == value


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("text", ["\u0661\u0660", "1_000", "\uff15", "0x_ff", "5 ", "00x5",
                                  "0x", "", "1e3"])
def test_integers_corefoundation_refuses_lose_only_their_key(text: str, careful: bool) -> None:
    body = f"<key>N</key><integer>{text}</integer><key>S</key><string>s</string>".encode()
    value = plistxml.loads(_doc(body, careful))
    assert isinstance(value["N"], UnreadableValue) and value["S"] == "s"


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize(("text", "width"), [
    (str(1 << 64), "a 65-bit integer"), ("-0x8000000000000001", "a 65-bit integer"),
    ("9" * 100, "an integer far past 64 bits"), ("0x" + "f" * 5000, "far past 64 bits"),
])
def test_an_integer_past_64_bits_names_its_true_width(text: str, width: str,
                                                      careful: bool) -> None:
    with pytest.raises(PlistShapeError) as raised:
        plistxml.loads(_doc(f"<key>N</key><integer>{text}</integer>".encode(), careful))
    assert raised.value.reference == "plist-integer-out-of-range"
    assert width in str(raised.value)


_INTEGER_TEXT = st.text(st.sampled_from("0123456789abcdefxX+- _\t\n\u0661\uff15"), max_size=30)


def _read_either(data: bytes) -> Any:
    try:
        return plistxml.loads(data)["N"]
    except PlistShapeError as error:
        return error.reference


@given(_INTEGER_TEXT)
def test_both_readers_read_any_integer_text_alike(text: str) -> None:
    body = f"<key>N</key><integer>{text}</integer>".encode()
    fast, careful = _read_either(_doc(body, False)), _read_either(_doc(body, True))
    assert type(fast) is type(careful)
    assert fast == careful or isinstance(fast, UnreadableValue)


# -- 5: the characters of a bundle identifier -------------------------------------------------
@pytest.mark.parametrize("bundle_id", ["com.a\nerror[fake]: forged line", "com.\x1b[31mred",
                                       " com.odd ", "com.tab\there", "com.caf\u00e9"])
def test_a_bundle_id_with_other_characters_is_refused(tmp_path: Path, bundle_id: str) -> None:
    identity = {"CFBundleIdentifier": bundle_id, "CFBundleVersion": "1.0"}
    bundle, found = _manifest(tmp_path, plistlib.dumps(identity, fmt=plistlib.FMT_BINARY))
    assert bundle is None
    assert [d.reference for d in found] == ["manifest-bad-bundle-identifier"]
    assert "holds" in found[0].message and found[0].hint


def test_every_corpus_kext_keeps_its_bundle_id() -> None:
    defines = {"PRODUCT_BUNDLE_IDENTIFIER": "com.example.x", "PRODUCT_NAME": "x",
               "MODULE_NAME": "com.example.m", "MODULE_VERSION": "1.0"}
    plists = sorted(glob.glob("/work/shared/corpus/plists/*"))
    if not plists:
        pytest.skip("no corpus here")
    for plist in plists:
        found = read_plist_file(plist, defines=defines)[1]
        assert "manifest-bad-bundle-identifier" not in [d.reference for d in found], plist


# -- 6: an Info.plist that is not a file ------------------------------------------------------
def _odd_site(root: Path, make: Any) -> Path:
    site = write_installed(root, {
        "odd-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: odd\nVersion: 1.0\n",
        "odd-1.0.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.odd = odd\n",
        "odd/__init__.py": b""})
    make(str(site / "odd" / "Info.plist"))
    return site


@pytest.mark.parametrize(("make", "what"), [
    (os.mkdir, "is a folder, not a file"), (os.mkfifo, "is a pipe, not a file"),
    (lambda p: os.symlink("/dev/null", p), "is a device, not a file"),
    (lambda p: os.symlink("Info.plist", p), "is a symlink loop, not a file"),
])
def test_an_info_plist_that_is_no_file_says_what_it_is(tmp_path: Path, make: Any,
                                                       what: str) -> None:
    found = discover(path=[str(_odd_site(tmp_path, make))], use_cache=False)
    notes = [d for d in found.diagnostics if d.reference == "kext-manifest-not-found"]
    assert len(notes) == 1 and what in notes[0].message
    assert "package-data" not in (notes[0].hint or "")


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: os.symlink("/dev/zero", p)],
                         ids=["fifo", "dev-zero"])
def test_an_entry_points_file_that_is_no_file_costs_only_its_distribution(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    # Read whole with open(): a FIFO waited for a writer forever, /dev/zero filled memory,
    # in the kext scan and in the host-plugin walk alike.
    site = _odd_site(tmp_path, lambda p: Path(p).write_bytes(info_plist("com.example.odd")))
    write_installed(site, {
        "good-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: good\nVersion: 1.0\n",
        "good-1.0.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.good = good\n",
        "good/Info.plist": info_plist("com.example.good")})
    entry_points = site / "odd-1.0.dist-info" / "entry_points.txt"
    entry_points.unlink()
    make(str(entry_points))
    found = discover(path=[str(site)], use_cache=False)
    assert [b.bundle_id for b in found.bundles] == ["com.example.good"]
    (note,) = [d for d in found.diagnostics if d.reference == "kext-distribution-unreadable"]
    assert "entry_points.txt: not a regular file" in note.message
    monkeypatch.syspath_prepend(str(site))
    install_index.host_plugins(tmp_path / "cache")  # ends: the odd one declares none


def test_metadata_that_is_a_pipe_is_not_read(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # importlib.metadata reads METADATA (else PKG-INFO, else an .egg-info itself) with open():
    # for a name not in the folder's name, and for iokit-sdk's version, a FIFO hung the boot.
    site = write_installed(tmp_path / "site", {
        "odd.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.odd = odd\n",
        "odd/Info.plist": info_plist("com.example.odd")})
    os.mkfifo(site / "odd.dist-info" / "METADATA")
    os.mkfifo(site / "piped.egg-info")
    (site / "iokit_sdk-9.9.dist-info").mkdir()
    os.mkfifo(site / "iokit_sdk-9.9.dist-info" / "METADATA")
    found = discover(path=[str(site)], use_cache=False)
    assert [b.bundle_id for b in found.bundles] == ["com.example.odd"]
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("IOKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IOKIT_NO_CACHE", raising=False)
    assert kpi.sdk_interface_version() == ("0.1.0", "0.1")  # as if not installed


# -- 7: binary plists: a container as a key, a fill byte --------------------------------------
def _bplist(objects: list[bytes], top_keys: list[int], top_values: list[int]) -> bytes:
    """A bplist00 of one-byte refs whose object 0 is the top dict of the given refs."""
    count = len(top_keys)
    top = bytes([0xD0 | count, *top_keys, *top_values])
    body, offsets = bytearray(b"bplist00"), []
    for obj in [top, *objects]:
        offsets.append(len(body))
        body += obj
    table = len(body)
    body += bytes(offsets)
    return bytes(body) + bytes(6) + bytes([1, 1]) + (len(offsets)).to_bytes(8, "big") + \
        bytes(8) + table.to_bytes(8, "big")


def _ascii(text: str) -> bytes:
    size = bytes([0x50 | len(text)]) if len(text) < 15 else bytes([0x5F, 0x10, len(text)])
    return size + text.encode()


@pytest.mark.parametrize(("key", "reason"), [(bytes([0xA0]), "a key is an array"),
                                             (bytes([0xD0]), "a key is a dict")])
def test_a_container_as_a_binary_key_drops_that_pair_alone(tmp_path: Path, key: bytes,
                                                           reason: str) -> None:
    objects = [_ascii("CFBundleIdentifier"), _ascii("com.b.x"), _ascii("CFBundleVersion"),
               _ascii("1.0"), key, bytes([0x09])]
    bundle, found = _manifest(tmp_path, _bplist(objects, [1, 3, 5], [2, 4, 6]))
    assert bundle is not None and bundle.bundle_id == "com.b.x"
    assert [d.reference for d in found] == ["manifest-unsupported-value"]
    assert reason in found[0].message


def test_a_fill_byte_is_an_unreadable_object(tmp_path: Path) -> None:
    objects = [_ascii("CFBundleIdentifier"), _ascii("com.b.x"), _ascii("CFBundleVersion"),
               _ascii("1.0"), _ascii("X"), bytes([0x0F])]
    bundle, found = _manifest(tmp_path, _bplist(objects, [1, 3, 5], [2, 4, 6]))
    assert bundle is not None and "X" not in bundle.info
    assert [d.reference for d in found] == ["manifest-unsupported-value"]
    assert "fill" in found[0].message
    assert plistlib.loads(_bplist(objects, [1, 3, 5], [2, 4, 6]))["X"] == b""  # plistlib's


# -- 9: defines that refer to defines ---------------------------------------------------------
def test_a_define_holding_a_placeholder_is_expanded_in_turn() -> None:
    done = expand("$(PRODUCT_BUNDLE_IDENTIFIER)", {"PRODUCT_BUNDLE_IDENTIFIER": "$(OTHER)",
                                                   "OTHER": "com.a.${NAME:lower}",
                                                   "NAME": "X"})
    assert (done.text, done.unresolved) == ("com.a.x", ())


@pytest.mark.parametrize("defines", [{"A": "$(B)"}, {"A": "$(B)", "B": "$(A)"},
                                     {"A": "$(A)"}])
def test_what_a_define_leaves_unexpanded_is_reported(tmp_path: Path,
                                                     defines: dict[str, str]) -> None:
    assert expand("$(A)", defines).unresolved
    path = tmp_path / "Info.plist"
    path.write_bytes(info_plist("$(A)", "1.0"))
    bundle, found = read_plist_file(path, defines=defines)
    assert bundle is None
    assert [(d.reference, d.severity) for d in found] == [
        ("manifest-build-placeholder", Severity.ERROR)]


def test_a_define_that_doubles_cannot_grow_without_bound() -> None:
    defines = {f"D{i}": f"$(D{i + 1})$(D{i + 1})" for i in range(40)}
    assert expand("$(D0)", defines).unresolved


# -- 10: elements inside a scalar -------------------------------------------------------------
@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("body", [b"<key>X</key><string>a<b>c</b>d</string>",
                                  b"<key>X</key><integer>1<b/></integer>",
                                  b"<key>X</key><data>AA<b/></data>"])
def test_an_element_inside_a_scalar_makes_it_unreadable(tmp_path: Path, body: bytes,
                                                        careful: bool) -> None:
    identity = b"<key>CFBundleIdentifier</key><string>com.odd</string>" \
        b"<key>CFBundleVersion</key><string>1.0</string>"
    bundle, found = _manifest(tmp_path, _doc(identity + body, careful))
    assert bundle is not None and "X" not in bundle.info
    assert "holds an element <b>" in found[-1].message


def test_an_element_inside_a_key_drops_that_pair(tmp_path: Path) -> None:
    body = b"<key>CFBundleIdentifier</key><string>com.odd</string>" \
        b"<key>CFBundleVersion</key><string>1.0</string><key>X<b/></key><true/>"
    bundle, found = _manifest(tmp_path, _doc(body, careful=False))
    assert bundle is not None and set(bundle.info) == {"CFBundleIdentifier", "CFBundleVersion"}
    assert [d.reference for d in found] == ["manifest-unsupported-value"]
