"""File stamps: an edit is noticed even with size and mtime put back, or within one clock tick."""

from __future__ import annotations

import os
import time
from pathlib import Path

from iokit_host.kext import stamps
from iokit_host.kext.stamps import FileStamp


def _edit_keeping_size_and_mtime(file: Path, old: bytes, new: bytes) -> None:
    status = file.stat()
    file.write_bytes(file.read_bytes().replace(old, new))
    os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))
    after = file.stat()
    assert (after.st_size, after.st_mtime_ns) == (status.st_size, status.st_mtime_ns)


def test_edit_with_mtime_put_back_is_noticed(tmp_path: Path) -> None:
    file = tmp_path / "Info.plist"
    file.write_bytes(b"<string>1.0</string>")
    stamp = stamps.take(str(file), stamps.scan_clock())
    assert stamp is not None and stamp.is_current()
    _edit_keeping_size_and_mtime(file, b"1.0", b"1.1")
    assert not stamp.is_current()


def test_racy_file_carries_a_digest_that_catches_a_same_tick_edit(tmp_path: Path) -> None:
    file = tmp_path / "Info.plist"
    file.write_bytes(b"<string>1.0</string>")
    racy = stamps.take(str(file), stamps.scan_clock())  # written just now: racy
    assert racy is not None and racy.digest is not None
    # An edit in the same tick as the scan keeps every stat field: only the digest sees it.
    file.write_bytes(b"<string>1.1</string>")
    status = file.stat()
    same_tick = FileStamp(str(file), status.st_mtime_ns, status.st_size, status.st_ctime_ns,
                          racy.digest)
    assert not same_tick.is_current()
    assert FileStamp(str(file), status.st_mtime_ns, status.st_size, status.st_ctime_ns,
                     stamps.content_digest(b"<string>1.1</string>")).is_current()


def test_old_file_is_stamped_without_reading_it(tmp_path: Path) -> None:
    file = tmp_path / "Info.plist"
    file.write_bytes(b"x")
    later = time.time_ns() + 10 * stamps.RACY_COARSE_NS  # as if the scan ran much later
    stamp = stamps.take(str(file), later)
    assert stamp is not None and stamp.digest is None and stamp.is_current()


def test_stamp_and_bytes_read_together(tmp_path: Path) -> None:
    file = tmp_path / "entry_points.txt"
    file.write_bytes(b"[iokit.kexts]\n")
    stamp, data = stamps.read_stamped(str(file), stamps.scan_clock())
    assert data == b"[iokit.kexts]\n" and stamp.digest == stamps.content_digest(data)


def test_absent_stays_current_until_created(tmp_path: Path) -> None:
    missing = FileStamp.absent(str(tmp_path / "later"))
    assert missing.is_current()
    (tmp_path / "later").mkdir()
    assert not missing.is_current()


def test_racy_folder_digest_is_of_its_entries(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    stamp = stamps.take(str(folder), stamps.scan_clock())
    assert stamp is not None and stamp.digest is not None and stamp.is_current()
    (folder / "new_kext-1.0.dist-info").mkdir()
    assert not stamp.is_current()
