"""Generated code compiled once (:mod:`iokit_host.generated_code`): classes made from kept code
are the classes ``dataclasses`` makes, and a kept file that is damaged or foreign is not used."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host import generated_code
from iokit_host.generated_code import CompiledCode, keep_compiled


@pytest.fixture
def writes_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """As an installed command runs (the test environment turns bytecode off)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


@pytest.fixture
def serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``keep_compiled`` sets ``dataclasses.exec`` for the process: put it back after."""
    monkeypatch.delenv("IOKIT_NO_CACHE", raising=False)
    yield
    if "exec" in vars(dataclasses):
        del dataclasses.exec  # type: ignore[attr-defined]


def _make(store: CompiledCode) -> type:
    """A frozen dataclass with a default, a factory and an annotation, made through ``store``."""
    saved = vars(dataclasses).get("exec")
    dataclasses.exec = store.exec  # type: ignore[attr-defined]
    try:
        @dataclasses.dataclass(frozen=True, order=True)
        class Point:
            x: int
            y: float = 0.5
            tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)
    finally:
        if saved is None:
            del dataclasses.exec  # type: ignore[attr-defined]
        else:
            dataclasses.exec = saved  # type: ignore[attr-defined]
    return Point


def _reloaded(target: Path) -> CompiledCode:
    return CompiledCode(target, generated_code._load(target))


def _behaviour(cls: type) -> tuple[object, ...]:
    one, two = cls(1, tags=("a",)), cls(2)
    try:
        one.x = 3  # type: ignore[attr-defined]
        frozen = False
    except dataclasses.FrozenInstanceError:
        frozen = True
    return (repr(one)[len(cls.__qualname__):], one == cls(1, tags=("a",)), one < two, hash(one) == hash(cls(1, tags=("a",))),
            frozen, cls.__init__.__annotations__, cls.__init__.__code__.co_filename,
            [f.name for f in dataclasses.fields(cls)])


def test_a_class_made_from_kept_code_is_the_class_dataclasses_makes(
        tmp_path: Path, writes_bytecode: None) -> None:
    target = tmp_path / "kept.bin"
    first = _reloaded(target)
    made = _make(first)
    assert first.compiled > 0
    first.save()
    second = _reloaded(target)
    again = _make(second)
    assert second.compiled == 0  # everything came from the file
    @dataclasses.dataclass(frozen=True, order=True)
    class Point:
        x: int
        y: float = 0.5
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)
    # __init__'s annotations among them: a __future__ flag leaking into the compile would
    # give the generated text's names (__dataclass_type_x__) instead of the fields' types.
    assert _behaviour(again) == _behaviour(made) == _behaviour(Point)


def test_nothing_is_written_when_python_writes_no_bytecode_or_nothing_was_new(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "kept.bin"
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    store = _reloaded(target)
    _make(store)
    store.save()
    assert not target.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    store.save()
    written = target.stat()
    reused = _reloaded(target)
    _make(reused)
    reused.save()  # compiled nothing: the file is left as it was
    assert target.stat().st_ino == written.st_ino


def test_a_file_of_another_python_is_not_used(tmp_path: Path, writes_bytecode: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "kept.bin"
    store = _reloaded(target)
    _make(store)
    store.save()
    monkeypatch.setattr(sys, "version", "3.99.0 (other)")
    assert generated_code._load(target) == {}


def test_the_file_keeps_what_the_run_used_first_and_no_more_than_its_bound(
        tmp_path: Path, writes_bytecode: None, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "kept.bin"
    monkeypatch.setattr(generated_code, "MAX_ENTRIES", 3)
    old = _reloaded(target)
    for n in range(6):
        old.exec(f"value_{n} = {n}", {})
    old.save()
    assert len(generated_code._load(target)) == 3
    new = _reloaded(target)
    new.exec("fresh = 1", {})
    new.save()
    kept = _reloaded(target)
    scope: dict[str, object] = {}
    kept.exec("fresh = 1", scope)
    assert kept.compiled == 0 and scope["fresh"] == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_in_the_file_are_never_used_and_never_raise(
        tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("kept") / "kept.bin"
    path.write_bytes(data)
    assert generated_code._load(path) == {}


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # it sets one flag
@given(data=st.data())
def test_a_damaged_kept_file_is_not_used(tmp_path_factory: pytest.TempPathFactory,
                                          data: st.DataObject, writes_bytecode: None) -> None:
    target = tmp_path_factory.mktemp("kept") / "kept.bin"
    store = _reloaded(target)
    store.exec("answer = 42", {})
    store.save()
    whole = target.read_bytes()
    at = data.draw(st.integers(0, len(whole) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = whole[:at] + bytes([whole[at] ^ flip]) + whole[at + 1:]
    target.write_bytes(damaged)
    assert generated_code._load(target) == {}
    target.write_bytes(whole[:at])  # cut short
    assert generated_code._load(target) == {}


def test_no_cache_leaves_dataclasses_alone(monkeypatch: pytest.MonkeyPatch,
                                           serving: None) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    assert keep_compiled("iokit") is None
    assert "exec" not in vars(dataclasses)


def _boot(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", "boot"], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_a_boot_keeps_its_compiled_code_and_a_later_boot_prints_the_same_from_it(
        tmp_path: Path) -> None:
    """The console script and the camera sample's driver process each keep a file; a second
    boot compiles nothing new (the files are not rewritten) and prints what the first did; a
    damaged file is replaced, the boot none the wiser."""
    env = {**os.environ, "IOKIT_CACHE_DIR": str(tmp_path)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("IOKIT_NO_CACHE", None)
    first = _boot(env)
    assert first.returncode == 0, first.stderr[-2000:]
    tag = sys.implementation.cache_tag
    host, dext = (tmp_path / f"generated-code-{tag}-{role}.bin" for role in ("iokit", "dext"))
    kept = {path: path.stat().st_ino for path in (host, dext)}
    second = _boot(env)
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, first.stderr)
    assert {path: path.stat().st_ino for path in (host, dext)} == kept
    host.write_bytes(host.read_bytes()[:-100] + b"\0" * 100)
    third = _boot(env)
    assert (third.returncode, third.stdout, third.stderr) == (0, first.stdout, first.stderr)
    assert host.stat().st_ino != kept[host] and generated_code._load(host)
