"""Plists the kernel would refuse for their shape: nested past the one limit, containing
themselves, sharing one array into an enormous tree, or holding integers beyond 64 bits. Each
is refused where it is read, naming the file, the key path and the depth; the rest goes on."""

from __future__ import annotations

import itertools
import json
import plistlib
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS

from iokit_host.kext import plistshape, plistxml
from iokit_host.kext.manifest import parse_info, read_manifest
from iokit_host.kext.plistshape import PlistShapeError, check_binary

HEAD = {"CFBundleIdentifier": "com.example.deep", "CFBundleVersion": "1.0"}
PERSONALITY = "<key>IOClass</key><string>X</string><key>IOProviderClass</key><string>IOPCIDevice</string>"


def xml_plist(value_xml: str) -> bytes:
    """An Info.plist whose personality P has ``Deep`` = ``value_xml``."""
    head = "".join(f"<key>{k}</key><string>{v}</string>" for k, v in HEAD.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>{head}'
            f"<key>IOKitPersonalities</key><dict><key>P</key><dict>{PERSONALITY}"
            f"<key>Deep</key>{value_xml}</dict></dict></dict></plist>").encode()


def arrays(depth: int) -> str:
    return "<array>" * depth + "</array>" * depth


# -- a hand-made binary plist: shared and self-referring objects, which plistlib cannot write --

class BinaryPlist:
    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def add(self, data: bytes = b"") -> int:
        self.objects.append(data)
        return len(self.objects) - 1

    def set(self, ref: int, data: bytes) -> None:
        self.objects[ref] = data

    def string(self, text: str) -> int:
        raw = text.encode("ascii")
        return self.add(_marker(0x50, len(raw)) + raw)

    def array(self, refs: list[int]) -> bytes:
        return _marker(0xA0, len(refs)) + b"".join(struct.pack(">H", r) for r in refs)

    def dict(self, items: dict[str, int]) -> bytes:
        keys = [self.string(k) for k in items]
        return _marker(0xD0, len(items)) + b"".join(
            struct.pack(">H", r) for r in [*keys, *items.values()])

    def info(self, deep: int) -> int:
        """The top dictionary, with personality P's ``Deep`` = object ``deep``; returns top."""
        top = self.add()
        strings = {k: self.string(v) for k, v in {**HEAD, "IOClass": "X",
                                                    "IOProviderClass": "IOPCIDevice"}.items()}
        personality = self.add()
        self.set(personality, self.dict({"IOClass": strings["IOClass"],
                                         "IOProviderClass": strings["IOProviderClass"],
                                         "Deep": deep}))
        personalities = self.add()
        self.set(personalities, self.dict({"P": personality}))
        self.set(top, self.dict({"CFBundleIdentifier": strings["CFBundleIdentifier"],
                                 "CFBundleVersion": strings["CFBundleVersion"],
                                 "IOKitPersonalities": personalities}))
        return top

    def data(self, top: int) -> bytes:
        out = bytearray(b"bplist00")
        offsets = []
        for obj in self.objects:
            offsets.append(len(out))
            out += obj
        table = len(out)
        out += b"".join(struct.pack(">I", o) for o in offsets)
        out += struct.pack(">6xBBQQQ", 4, 2, len(self.objects), top, table)
        return bytes(out)


def _marker(kind: int, count: int) -> bytes:
    if count < 15:
        return bytes([kind | count])
    return bytes([kind | 0xF, 0x11]) + struct.pack(">H", count)


def binary_self_containing() -> bytes:
    plist = BinaryPlist()
    loop = plist.add()
    plist.set(loop, plist.array([loop]))
    return plist.data(plist.info(loop))


def binary_deep(depth: int) -> bytes:
    plist = BinaryPlist()
    refs = [plist.add() for _ in range(depth)]
    for ref, inner in itertools.pairwise(refs):
        plist.set(ref, plist.array([inner]))
    plist.set(refs[-1], plist.array([]))
    return plist.data(plist.info(refs[0]))


def binary_shared(levels: int) -> bytes:
    plist = BinaryPlist()
    refs = [plist.add() for _ in range(levels)]
    for ref, inner in itertools.pairwise(refs):
        plist.set(ref, plist.array([inner, inner]))  # each level twice: 2**levels leaves
    plist.set(refs[-1], plist.array([]))
    return plist.data(plist.info(refs[0]))


def refusal(data: bytes) -> PlistShapeError:
    with pytest.raises(PlistShapeError) as caught:
        plistxml.loads(data)
    return caught.value


# -- reading -------------------------------------------------------------------------------

def test_values_within_the_limit_read_as_plistlib_reads_them() -> None:
    data = xml_plist(arrays(MAX_VALUE_DEPTH - 3))  # the top dict and two more hold it
    assert plistxml.loads(data) == plistlib.loads(data)


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH, 500, 2000])
def test_xml_nested_too_deep_is_refused_with_key_path_and_depth(depth: int) -> None:
    error = refusal(xml_plist(arrays(depth)))
    assert error.reference == "plist-value-too-deep"
    assert error.key.startswith("IOKitPersonalities.P.Deep[0][0]")
    assert f"nested {MAX_VALUE_DEPTH + 1} deep" in error.reason


def test_dictionaries_nested_too_deep_are_refused_too() -> None:
    value = "<dict><key>k</key>" * 1000 + "<string/>" + "</dict>" * 1000
    error = refusal(xml_plist(value))
    assert error.key.startswith("IOKitPersonalities.P.Deep.k.k")


def test_a_binary_array_containing_itself_is_refused_as_a_cycle() -> None:
    error = refusal(binary_self_containing())
    assert error.reference == "plist-value-cyclic"
    assert error.key == "IOKitPersonalities.P.Deep[0]"


@pytest.mark.parametrize("depth", [500, 2000])
def test_a_binary_plist_too_deep_for_plistlib_is_refused_with_key_path(depth: int) -> None:
    error = refusal(binary_deep(depth))
    assert error.reference == "plist-value-too-deep"
    assert error.key.startswith("IOKitPersonalities.P.Deep[0][0]")


def test_a_binary_plist_within_the_limit_reads() -> None:
    value = plistxml.loads(binary_deep(20))
    assert value["IOKitPersonalities"]["P"]["IOClass"] == "X"


def test_a_binary_plist_sharing_one_array_into_a_huge_tree_is_refused() -> None:
    error = refusal(binary_shared(40))
    assert error.reference == "plist-value-too-large"


def test_a_plist_past_the_item_limit_is_refused_alike_in_xml_and_binary_form() -> None:
    # The XML fast path accepted 100,000 personalities that the binary reader refused.
    info = {"CFBundleIdentifier": "com.acme.many", "IOKitPersonalities": {
        f"P{i}": {"IOClass": "X", "IOProviderClass": "IOPCIDevice", "IOPCIMatch": f"0x{i:04x}8086",
                  "IOProbeScore": i % 100} for i in range(60_000)}}
    for data in (plistlib.dumps(info), plistlib.dumps(info, fmt=plistlib.FMT_BINARY)):
        assert refusal(data).reference == "plist-value-too-large"


@pytest.mark.parametrize("integer", ["0x" + "f" * 5000, "9" * 5000, "-" + "9" * 5000,
                                     str(1 << 64), str(-(1 << 63) - 1)])
def test_integers_beyond_64_bits_are_refused(integer: str) -> None:
    error = refusal(xml_plist(f"<integer>{integer}</integer>"))
    assert error.reference == "plist-integer-out-of-range"


@pytest.mark.parametrize("integer", [str((1 << 64) - 1), str(-(1 << 63)), "0xffffffff"])
def test_integers_within_64_bits_read(integer: str) -> None:
    value = plistxml.loads(xml_plist(f"<integer>{integer}</integer>"))
    assert value["IOKitPersonalities"]["P"]["Deep"] == int(integer, 0)


# -- the manifest reader: a refused kext with a diagnostic, never a crash ---------------------

@pytest.mark.parametrize(("name", "data", "reference"), [
    ("deep.plist", xml_plist(arrays(2000)), "plist-value-too-deep"),
    ("cyclic.plist", binary_self_containing(), "plist-value-cyclic"),
    ("bdeep.plist", binary_deep(2000), "plist-value-too-deep"),
    ("digits.plist", xml_plist("<integer>" + "9" * 5000 + "</integer>"),
     "plist-integer-out-of-range"),
])
def test_the_manifest_is_refused_naming_file_key_and_reason(tmp_path: Path, name: str,
                                                            data: bytes, reference: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    bundle, found = read_manifest(path)
    assert bundle is None
    (diagnostic,) = found
    assert diagnostic.reference == reference
    assert diagnostic.file == str(path)
    if reference != "plist-integer-out-of-range":
        assert diagnostic.key is not None and diagnostic.key.startswith("IOKitPersonalities.P")


def test_an_info_dictionary_in_memory_is_checked_before_it_is_walked() -> None:
    deep: Any = []
    for _ in range(2000):
        deep = [deep]
    info = {**HEAD, "IOKitPersonalities": {"P": {"IOClass": "X", "Deep": deep}}}
    bundle, found = parse_info(info, source="cache.json")
    assert bundle is None
    assert [d.reference for d in found] == ["plist-value-too-deep"]
    assert found[0].key is not None and found[0].key.startswith("IOKitPersonalities.P.Deep")


def test_inspect_in_a_subprocess_refuses_without_a_traceback(tmp_path: Path) -> None:
    files = {"deep.plist": xml_plist(arrays(1500)), "cyclic.plist": binary_self_containing(),
             "bdeep.plist": binary_deep(1500)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        for extra in ((), ("--json",)):
            result = subprocess.run(
                [sys.executable, "-m", "iokit_host", "kext", "inspect", str(tmp_path / name),
                 *extra], capture_output=True, text=True, timeout=120, check=False)
            assert "Traceback" not in result.stdout + result.stderr, name
            assert "internal error" not in result.stderr, name
            assert result.returncode == 1, (name, result.stderr)
            if extra:
                (diagnostic,) = json.loads(result.stdout)["diagnostics"]
                assert diagnostic["reference"].startswith("plist-value-"), name


def _many_values(count: int, *, tail: bytes = b"</array></dict></plist>") -> bytes:
    return (b'<?xml version="1.0"?><plist version="1.0"><dict>'
            b"<key>CFBundleIdentifier</key><string>a.b</string><key>X</key><array>"
            + b"<true/>" * count + tail)


@pytest.mark.parametrize("tail", [b"</array></dict></plist>", b"</array></plist>"])
def test_a_manifest_of_millions_of_values_is_refused_in_bounded_memory(tmp_path: Path,
                                                                        tail: bytes) -> None:
    # 7 million <true/> (49 MB) took some 700 MB to build a tree of, then refused it (or, with
    # a broken end, handed it to plistlib to build again). In a real process whose address
    # space is capped far below that, it is refused as too large, and quickly.
    path = tmp_path / "Info.plist"
    path.write_bytes(_many_values(7_000_000, tail=tail))
    script = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20));"
              "from iokit_host.cli import main; raise SystemExit(main(['kext', 'inspect', "
              f"{str(path)!r}]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "error[plist-value-too-large]" in done.stdout and "MemoryError" not in done.stderr


def test_a_document_just_within_the_limit_still_reads() -> None:
    value = plistxml.loads(_many_values(MAX_VALUE_ITEMS - 8))
    assert len(value["X"]) == MAX_VALUE_ITEMS - 8


def test_a_container_referred_to_many_times_is_read_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A binary file stores one list once however many containers name it: 700 parents naming
    # one list of 100 entries of 100 items each were read 70,000 times (9 s for 60 KB).
    kids = [{f"p{n}": n for n in range(20)} for _ in range(10)]
    data = plistlib.dumps([{"children": kids} for _ in range(50)], fmt=plistlib.FMT_BINARY)
    reads: list[int] = []
    real = plistshape._ObjectTable._children

    def counting(table: Any, ref: int) -> Any:
        reads.append(ref)
        return real(table, ref)

    monkeypatch.setattr(plistshape._ObjectTable, "_children", counting)
    assert check_binary(data, 1 << 20) is True  # still counted as a tree: 50 x 10 x 20
    assert len(reads) == len(set(reads))
    with pytest.raises(PlistShapeError, match="holds more than 10000 items"):
        check_binary(data, 10_000)
