"""Installed distributions read without trusting them: a third-party finder or distribution that
raises costs a warning naming it, and every other distribution is still read."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from iokit_host.kext import distributions
from iokit_host.kext.discovery import scan
from tests.kext.dists import info_plist, write_installed


class _Raising(metadata.Distribution):
    """A distribution from a third-party finder whose every read raises."""

    def read_text(self, filename: str) -> str | None:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, f"{filename} is damaged")

    def locate_file(self, path: Any) -> Any:
        raise RuntimeError("no files")


class _Finder:
    def __init__(self, *, fail: bool) -> None:
        self.fail = fail

    def find_spec(self, *args: Any) -> None:
        return None

    def find_distributions(self, context: Any = None) -> Iterator[metadata.Distribution]:
        yield _Raising()
        if self.fail:
            raise RuntimeError("finder broke")


def _good_site(root: Path) -> Path:
    return write_installed(root, {
        "good-1.0.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.fine = fine\n",
        "fine/Info.plist": info_plist("com.example.fine")})


@pytest.mark.parametrize("fail", [False, True])
def test_a_raising_distribution_or_finder_costs_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool) -> None:
    site = _good_site(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, _Finder(fail=fail)])
    records = scan()
    refs = [d.reference for r in records for d in r.diagnostics]
    assert refs.count("kext-distribution-unreadable") == 1
    assert refs.count("kext-distribution-search-failed") == (1 if fail else 0)
    unreadable = next(d for r in records for d in r.diagnostics
                      if d.reference == "kext-distribution-unreadable")
    assert "UnicodeDecodeError" in unreadable.message and unreadable.subject == "?"
    assert "com.example.fine" in [k.bundle.bundle_id for r in records for k in r.kexts
                                  if k.bundle is not None]


def test_describe_and_key_never_raise() -> None:
    broken = _Raising()
    info = distributions.describe(broken)
    assert (info.name, info.version) == ("?", "?")
    assert distributions.dedupe_key(broken).startswith("path:")


def test_group_entries_reads_only_the_group() -> None:
    text = "[console_scripts]\nx = y\n[iokit.kexts]\n# a comment\ncom.a = a:attr [extra]\n"
    assert distributions.group_entries(text, "iokit.kexts") == [("com.a", "a:attr")]
