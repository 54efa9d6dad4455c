"""A zipped archive or dump (how people share them) boots as the machine it holds."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from iokit_host.errors import IOKitError
from iokit_host.machine import MachineModelError
from iokit_host.machine.loader import load_machine
from tests.explorer_archive.archivekit import archive_bytes, small_machine

DUMP = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
        "  +-o Mac-2  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_the_archive_in_a_zip_is_read_before_a_dump(tmp_path: Path) -> None:
    path = _zip(tmp_path / "Mac-1-ioreg.zip", {
        "__MACOSX/._Mac-1.ioreg": b"\0\5\26\7junk", "notes/IOReg.txt": DUMP.encode(),
        "Mac-1/Mac-1.ioreg": archive_bytes(small_machine())})
    model = load_machine(path)
    assert model.name == "mac-1" and model.source == f"{path}:Mac-1/Mac-1.ioreg"
    (warning,) = model.diagnostics
    assert warning.reference == "machine-zip-several" and "notes/IOReg.txt" in warning.message


def test_a_zipped_dump_reads(tmp_path: Path) -> None:
    model = load_machine(_zip(tmp_path / "d.zip", {"IOReg.txt": DUMP.encode()}))
    assert model.name == "mac-2" and not model.diagnostics


@pytest.mark.parametrize("members", [{}, {"readme.md": b"# hello"}])
def test_a_zip_without_a_registry_is_refused_by_name(tmp_path: Path,
                                                     members: dict[str, bytes]) -> None:
    path = _zip(tmp_path / "empty.zip", members)
    with pytest.raises(MachineModelError) as caught:
        load_machine(path)
    assert caught.value.diagnostic.reference == "machine-zip-unreadable"
    assert caught.value.diagnostic.file == str(path)


def test_a_damaged_zip_is_refused_by_name(tmp_path: Path) -> None:
    good = _zip(tmp_path / "g.zip", {"IOReg.txt": DUMP.encode() * 50}).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(MachineModelError) as caught:
        load_machine(path)
    assert caught.value.diagnostic.reference == "machine-zip-unreadable"


def _damage_first_member(path: Path) -> Path:
    """Flip bytes inside the first member's compressed data (a bad deflate stream or CRC)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
    start = first.header_offset + 30 + len(first.filename.encode())
    for offset in range(start + 2, start + min(first.compress_size, 40), 3):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_member_costs_only_itself(tmp_path: Path) -> None:
    # A bad deflate stream was a zlib.error: "iokit: internal error", and no other member read.
    path = _damage_first_member(_zip(tmp_path / "two.zip", {
        "Mac-1.ioreg": archive_bytes(small_machine()), "IOReg.txt": DUMP.encode()}))
    model = load_machine(path)
    assert model.source == f"{path}:IOReg.txt"
    (warning,) = model.diagnostics
    assert warning.reference == "machine-zip-member-unreadable"
    assert warning.key == "Mac-1.ioreg" and warning.file == str(path)


def test_a_zip_whose_only_registry_is_damaged_says_why(tmp_path: Path) -> None:
    path = _damage_first_member(_zip(tmp_path / "one.zip", {"IOReg.txt": DUMP.encode() * 50}))
    with pytest.raises(MachineModelError) as caught:
        load_machine(path)
    assert caught.value.diagnostic.reference == "machine-zip-unreadable"
    assert "IOReg.txt: " in caught.value.diagnostic.message
    assert "internal error" not in caught.value.diagnostic.message


def test_a_zipped_dump_is_cut_where_the_same_dump_file_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A zip of 130 KB expanded to a 128 MiB dump, read whole (78 s, 3.4 GB): the bound a
    # dump file has, 64 MiB, was not applied to a zip's member.
    from iokit_host import ioreg_import
    from iokit_host.machine.loader import import_dump

    monkeypatch.setattr(ioreg_import, "MAX_DUMP_BYTES", 4096)
    extra = "".join(f"    +-o Dev{n}  <class IOService, id 0x{0x100000200 + n:x}, registered, "
                    "retain 4>\n" for n in range(200))
    text = DUMP + extra
    assert len(text) > 3 * 4096
    plain = tmp_path / "IOReg.txt"
    plain.write_text(text)
    expected = import_dump(plain)
    model = load_machine(_zip(tmp_path / "d.zip", {"IOReg.txt": text.encode()}))
    (warning,) = model.diagnostics
    (wanted,) = expected.diagnostics
    assert warning.reference == wanted.reference == "ioreg-dump-too-large"
    assert (warning.message, warning.key) == (wanted.message, wanted.key)
    assert sum(1 for _ in model.nubs()) == sum(1 for _ in expected.nubs()) < 200
    with pytest.raises(IOKitError, match="larger than"):
        load_machine(tmp_path / "d.zip", strict=True)


def test_a_member_with_no_name_costs_only_itself(tmp_path: Path) -> None:
    # zipfile's is_dir() indexes the last character of the name: a damaged zip whose member
    # has none was an internal error (IndexError), the dump beside it never read.
    path = tmp_path / "nameless.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"junk")
        archive.writestr("IOReg.txt", DUMP)
    model = load_machine(path)
    assert model.name == "mac-2"
    (warning,) = model.diagnostics
    assert warning.reference == "machine-zip-member-unreadable" and "no name" in warning.message
