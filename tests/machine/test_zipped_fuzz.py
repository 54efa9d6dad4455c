"""Fuzzing zipped machines: whatever the zip's bytes, member names and compressions, the
machine it holds or our own refusal (``machine-zip-unreadable``, an import error), never
another exception."""

from __future__ import annotations

import io
import tempfile
import warnings
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.errors import IOKitError
from iokit_host.machine.model import MachineModel
from iokit_host.machine.zipped import read_zipped
from tests.explorer_archive.archivekit import archive_bytes, small_machine

DUMP = (b"+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
        b"  +-o Mac-2  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"
        )
ARCHIVE = archive_bytes(small_machine())
_COMPRESSIONS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                 zipfile.ZIP_LZMA]
_NAMES = st.sampled_from(["Mac.ioreg", "IOReg.txt", "__MACOSX/._Mac.ioreg", "a/", "../x.ioreg",
                          "/abs.txt", "x" * 300, "ü.ioreg", "\udcff.txt", "", "a/b/c.txt"])
_CONTENTS = st.sampled_from([ARCHIVE, DUMP, b"", b"bplist00", b"<?xml", DUMP * 3 + b"\xff\xfe",
                             ARCHIVE[: len(ARCHIVE) // 2]]) | st.binary(max_size=64)


def _zip(members: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # two members of one name: a zip may hold them
        for name, data, compression in members:
            info = zipfile.ZipInfo(name.encode("utf-8", "surrogateescape").decode("cp437"))
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def _read(tmp: Path, data: bytes) -> None:
    path = tmp / "m.zip"
    path.write_bytes(data)
    try:
        model = read_zipped(path, strict=False)
    except IOKitError:
        return
    assert isinstance(model, MachineModel)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_NAMES, _CONTENTS, st.sampled_from(_COMPRESSIONS)), max_size=4),
       st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4)),
                max_size=3))
def test_any_zip_is_a_machine_or_our_refusal(members: list[tuple[str, bytes, int]],
                                              damage: list[tuple[int, bytes]]) -> None:
    data = _zip(members)
    for at, junk in damage:  # a changed byte or a few in mail or on a disk
        at %= max(len(data), 1)
        data = data[:at] + junk + data[at + len(junk):]
    with tempfile.TemporaryDirectory() as tmp:
        _read(Path(tmp), data)
