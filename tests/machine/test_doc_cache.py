"""The parsed-model cache: a model file read twice parses its TOML once, never serves stale or
damaged data, and changes nothing a user sees."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.machine import load_machine
from iokit_host.machine.doc_cache import MAX_FILES, cached_document
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import read_machine
from tests.machine.conftest import typed_nub

_NUB = '[[nub]]\nid = "n{i}"\nparent = "root"\nclass = "IOService"\nname = "N{i}"\n' \
       '[nub.properties]\nvendor-id = {i}\nreg = {{ data = "00e1" }}\n'


def _model_text(nubs: int = 60, name: str = "cached") -> str:
    head = (f'[machine]\nname = "{name}"\n[[nub]]\nid = "root"\n'
            'class = "IOPlatformExpertDevice"\nname = "Mac"\n')
    return head + "".join(_NUB.format(i=i) for i in range(nubs))


def _nubs(path: Path) -> list[object]:
    return [typed_nub(nub) for _, nub in read_machine(path).root.walk()]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("IOKIT_CACHE_DIR", str(folder))
    monkeypatch.delenv("IOKIT_NO_CACHE", raising=False)
    return folder


def _counting_parse() -> tuple[list[str], object]:
    calls: list[str] = []

    def parse(text: str) -> dict[str, object]:
        calls.append(text)
        return tomllib.loads(text)
    return calls, parse


def test_a_model_read_again_comes_from_the_cache_and_is_the_same(
        cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text(_model_text(), encoding="utf-8")
    first = _nubs(path)
    assert len(list(cache_dir.glob("machine-*.json"))) == 1
    assert _nubs(path) == first
    calls, parse = _counting_parse()
    text = path.read_text(encoding="utf-8")
    assert cached_document(text, str(path), parse) == tomllib.loads(text)  # type: ignore[arg-type]
    assert calls == []  # served from the cache: no TOML parse


def test_an_edited_model_is_read_anew_never_stale(cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text(_model_text(name="before"), encoding="utf-8")
    assert read_machine(path).name == "before"
    path.write_text(_model_text(name="after"), encoding="utf-8")
    assert read_machine(path).name == "after"


@pytest.mark.parametrize("content", [b"", b"not json", b'{"format": 1}', b"[1, 2]",
                                     b'{"format": 1, "sha256": "0", "doc": {}}',
                                     b'{"format": 99, "sha256": "x", "doc": []}'])
def test_a_damaged_cache_file_is_ignored_and_rewritten(cache_dir: Path, tmp_path: Path,
                                                       content: bytes) -> None:
    path = tmp_path / "model.toml"
    path.write_text(_model_text(), encoding="utf-8")
    expected = _nubs(path)
    (cached,) = cache_dir.glob("machine-*.json")
    cached.write_bytes(content)
    assert _nubs(path) == expected
    assert cached.read_bytes() != content  # rewritten from the parse


def test_a_cache_folder_that_cannot_be_written_costs_only_the_parse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way", encoding="utf-8")
    monkeypatch.setenv("IOKIT_CACHE_DIR", str(blocker / "cache"))
    path = tmp_path / "model.toml"
    path.write_text(_model_text(), encoding="utf-8")
    assert read_machine(path).name == "cached"


def test_iokit_no_cache_writes_nothing(cache_dir: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    path = tmp_path / "model.toml"
    path.write_text(_model_text(), encoding="utf-8")
    read_machine(path)
    assert not cache_dir.exists()


def test_text_that_is_not_toml_fails_the_same_every_time_and_is_not_cached(
        cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text(_model_text() + "[[nub]\n", encoding="utf-8")
    messages = []
    for _ in range(2):
        with pytest.raises(MachineModelError) as caught:
            read_machine(path)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "not valid TOML" in messages[0]
    assert not list(cache_dir.glob("machine-*.json"))


def test_a_document_json_cannot_carry_is_not_cached(cache_dir: Path) -> None:
    text = _model_text() + "\n[extra]\nwhen = 1979-05-27T07:32:00Z\nnan = nan\n"
    calls, parse = _counting_parse()
    for _ in range(2):
        cached_document(text, "dates.toml", parse)  # type: ignore[arg-type]
    assert len(calls) == 2 and not list(cache_dir.glob("machine-*.json"))


def test_the_builtin_machine_boots_the_same_from_the_cache(cache_dir: Path) -> None:
    first = [typed_nub(nub) for _, nub in load_machine("default").root.walk()]
    assert list(cache_dir.glob("machine-*.json"))
    assert [typed_nub(nub) for _, nub in load_machine("default").root.walk()] == first


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_cache_file_content_gives_the_model_of_the_text(
        cache_dir: Path, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.toml"
    path.write_text(_model_text(), encoding="utf-8")
    expected = _nubs(path)
    for cached in cache_dir.glob("machine-*.json"):
        cached.write_bytes(content)
    assert _nubs(path) == expected


def test_a_cache_file_damaged_on_disk_but_still_json_is_not_served(
        cache_dir: Path, tmp_path: Path) -> None:
    # A flipped byte inside a name keeps the file JSON and its header intact: what the text
    # says must still come back, not the damaged copy.
    path = tmp_path / "model.toml"
    path.write_text(_model_text(), encoding="utf-8")
    expected = _nubs(path)
    (cached,) = cache_dir.glob("machine-*.json")
    cached.write_bytes(cached.read_bytes().replace(b'"N7"', b'"N8"', 1))
    assert _nubs(path) == expected
    assert b'"N7"' in cached.read_bytes()  # and the damaged copy was rewritten


def test_only_the_most_recently_written_models_are_kept(cache_dir: Path, tmp_path: Path) -> None:
    paths = []
    for index in range(MAX_FILES + 5):
        path = tmp_path / f"model{index}.toml"
        path.write_text(_model_text(), encoding="utf-8")
        read_machine(path)
        paths.append(path)
    assert len(list(cache_dir.glob("machine-*.json"))) == MAX_FILES
    calls, parse = _counting_parse()
    last = paths[-1]
    cached_document(last.read_text(encoding="utf-8"), str(last), parse)  # type: ignore[arg-type]
    assert calls == []  # the newest is still there


@pytest.mark.parametrize("planted", ["fifo", "symlink-to-dev-zero", "folder"])
def test_something_else_at_the_cache_name_is_passed_over(cache_dir: Path, tmp_path: Path,
                                                         planted: str) -> None:
    # A FIFO where the cached document goes hung `iokit machine show`; /dev/zero filled memory.
    path = tmp_path / "m.toml"
    path.write_text(_model_text())
    expected = _nubs(path)
    (target,) = cache_dir.glob("machine-*.json")
    target.unlink()
    if planted == "fifo":
        os.mkfifo(target)
    elif planted == "symlink-to-dev-zero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    assert _nubs(path) == expected
    if planted != "folder":  # a folder in its place cannot be replaced; the rest are
        assert target.is_file() and not target.is_symlink()
