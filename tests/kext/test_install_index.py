"""The install index: host plugins and the SDK's release kept between boots, never stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.input_file import MAX_CACHE_FILES
from iokit_host.kext import install_index, kpi
from iokit_host.kext.host_plugins import DamagedEntryPoints, EntryPointPlugin


def _install(site: Path, name: str, entry_points: bytes | None) -> Path:
    """An installed distribution (as ``pip install --target`` lays it out)."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_bytes(entry_points)
    return info


def _names(cache: Path) -> list[str]:
    return [i.name for i in install_index.host_plugins(cache).found
            if isinstance(i, EntryPointPlugin)]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("IOKIT_NO_CACHE", raising=False)
    return folder


def test_the_walk_is_kept_and_read_back_the_same(site: Path, tmp_path: Path) -> None:
    _install(site, "first_plugin", b"[iokit]\nfirst = first_plugin\n")
    _install(site, "damaged_plugin", b"[iokit]\nbroken = caf\xe9\nsecond = damaged_plugin\n")
    cache = tmp_path / "cache"
    walked = install_index.host_plugins(cache)
    assert install_index.index_path("host-plugins", cache).is_file()
    kept = install_index.host_plugins(cache)
    assert kept.found == walked.found
    assert {i.name for i in kept.found if isinstance(i, EntryPointPlugin)} >= {"first", "second"}
    damaged = [i for i in kept.found if isinstance(i, DamagedEntryPoints)]
    assert [d.distribution for d in damaged] == ["damaged_plugin"]


def test_a_distribution_installed_after_the_walk_is_found(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert "late" not in _names(cache)
    _install(site, "late_plugin", b"[iokit]\nlate = late_plugin\n")
    assert "late" in _names(cache)


def test_an_entry_point_added_in_place_is_noticed(site: Path, tmp_path: Path) -> None:
    """Even when the folder does not change: every entry_points.txt is stamped, present or
    absent, so an edit (or a new file) is seen on the next boot."""
    info = _install(site, "quiet_dist", b"[console_scripts]\nquiet = quiet:main\n")
    bare = _install(site, "bare_dist", None)
    cache = tmp_path / "cache"
    assert not {"edited", "created"} & set(_names(cache))
    (info / "entry_points.txt").write_bytes(b"[iokit]\nedited = quiet_dist\n")
    (bare / "entry_points.txt").write_bytes(b"[iokit]\ncreated = bare_dist\n")
    assert {"edited", "created"} <= set(_names(cache))


def test_a_removed_plugin_is_gone(site: Path, tmp_path: Path) -> None:
    info = _install(site, "gone_plugin", b"[iokit]\ngone = gone_plugin\n")
    cache = tmp_path / "cache"
    assert "gone" in _names(cache)
    for file in info.iterdir():
        file.unlink()
    info.rmdir()
    assert "gone" not in _names(cache)


@pytest.mark.parametrize("damage", [b"", b"not json", b"{\"key\": 1}", b"[" * 100_000,
                                    b"\xff\xfe", b'{"key": null, "watch": [[1]]}'])
def test_a_damaged_index_is_rebuilt_silently(site: Path, tmp_path: Path, damage: bytes) -> None:
    _install(site, "kept_plugin", b"[iokit]\nkept = kept_plugin\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    install_index.index_path("host-plugins", cache).write_bytes(damage)
    assert "kept" in _names(cache)
    assert "kept" in _names(cache)  # and the rewritten one reads back


def test_a_cache_folder_that_cannot_be_written_costs_only_the_walk(site: Path,
                                                                    tmp_path: Path) -> None:
    _install(site, "walked_plugin", b"[iokit]\nwalked = walked_plugin\n")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    assert "walked" in _names(blocked)


def test_no_cache_walks_every_time(site: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    cache = tmp_path / "cache"
    _install(site, "uncached_plugin", b"[iokit]\nuncached = uncached_plugin\n")
    assert "uncached" in _names(cache)
    assert not install_index.index_path("host-plugins", cache).exists()


def test_the_sdk_interface_version_reads_the_same_from_the_index(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    from importlib import metadata

    monkeypatch.setenv("IOKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IOKIT_NO_CACHE", raising=False)
    expected = kpi._interface_of(metadata.version("iokit-sdk"))
    assert kpi.sdk_interface_version() == expected  # walked and kept
    assert install_index.index_path("sdk-interface").is_file()
    assert kpi.sdk_interface_version() == expected  # read back


def test_a_boot_from_fresh_caches_does_not_import_importlib_metadata(tmp_path: Path) -> None:
    """What the index is for: the second ``iokit boot`` finds plugins and the SDK release
    without the distribution walk's imports, and prints the same."""
    env = {**os.environ, "IOKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("IOKIT_NO_CACHE", None)
    command = [sys.executable, "-X", "importtime", "-m", "iokit_host", "boot"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert first.returncode == second.returncode == 0, second.stderr[-2000:]
    assert first.stdout == second.stdout
    imported = {line.split("|")[-1].strip() for line in second.stderr.splitlines()
                if line.startswith("import time:")}
    assert "iokit_host.host" in imported
    assert "importlib.metadata" not in imported


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.binary(max_size=200) | _JSON.map(lambda v: json.dumps(v).encode()))
def test_a_damaged_index_file_gives_the_walks_answer(site: Path, tmp_path: Path,
                                                     damage: bytes) -> None:
    cache = tmp_path / "fuzz-cache"
    cache.mkdir(exist_ok=True)
    walked = install_index.host_plugins(cache)
    install_index.index_path("host-plugins", cache).write_bytes(damage)
    assert install_index.host_plugins(cache).found == walked.found


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_JSON, watch=_JSON)
def test_an_index_with_our_key_and_any_content_never_raises(site: Path, tmp_path: Path,
                                                            value: object,
                                                            watch: object) -> None:
    cache = tmp_path / "fuzz-cache"
    cache.mkdir(exist_ok=True)
    install_index.index_path("host-plugins", cache).write_text(
        json.dumps({"key": install_index._key(), "watch": watch, "value": value}))
    found = install_index.host_plugins(cache)
    assert all(isinstance(i, EntryPointPlugin | DamagedEntryPoints) for i in found.found)


@pytest.mark.parametrize("kind", ["host-plugins", "sdk-interface"])
def test_only_the_most_recently_written_answers_are_kept(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    # One file per interpreter and sys.path, never removed: the default cache folder of a
    # venv used for a day held 3,600 of each.
    cache = tmp_path / "cache"
    cache.mkdir()
    for number in range(MAX_CACHE_FILES + 8):
        old = cache / f"{kind}-{number:016x}.json"
        old.write_text("{}")
        os.utime(old, ns=(number * 10**9, number * 10**9))
    (cache / "machine-0000000000000000.json").write_text("{}")  # not this kind's to prune
    monkeypatch.setenv("IOKIT_CACHE_DIR", str(cache))
    install_index.host_plugins() if kind == "host-plugins" else kpi.sdk_interface_version()
    kept = sorted(p.name for p in cache.glob(f"{kind}-*.json"))
    assert len(kept) == MAX_CACHE_FILES
    assert install_index.index_path(kind).name in kept  # the answer just written
    assert f"{kind}-{MAX_CACHE_FILES + 7:016x}.json" in kept  # the newest old one
    assert f"{kind}-{0:016x}.json" not in kept  # the oldest went first
    assert (cache / "machine-0000000000000000.json").exists()
