"""Machine-model files under fuzzing: whatever a model file holds, reading it gives a model or a
MachineModelError, never another exception; a model that comes out writes back to an equal one
and builds into a registry (or is refused with a MachineModelError).

Inputs: one valid model mutated in its structure (a value anywhere replaced by a wrong type, a
deep nest, a huge or negative integer, bad hex, a date, an unknown key, a key removed) and in its
text (deep brackets, numbers thousands of digits long, stray quotes, NULs), and random bytes.
The ``iokit`` CLI then reads a few nasty files in a subprocess: exit status 0 or 1, no traceback.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.cli.machine import summary
from iokit_host.ioreg.jsontext import dumps
from iokit_host.machine.build import populate
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import dump_machine, parse_document, parse_machine, read_machine
from iokit_host.machine.model import MachineModel
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry

from .test_format import SMALL

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
VALID: dict[str, Any] = tomllib.loads(SMALL)


def assert_well_formed(error: MachineModelError) -> None:
    """Every model error says what to do, names its key once, and stays short (a 5,000-digit
    number or a long string is not echoed back whole)."""
    found = error.diagnostic
    assert found.hint, str(error)
    if found.key:
        assert str(error).count(f"{found.key}:") == 1, str(error)
    assert len(str(error)) < 1000, str(error)[:300]


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


#: Values that are wrong somewhere, or everywhere.
nasty = st.one_of(
    st.none(), st.booleans(), st.floats(), st.text(max_size=6),
    st.integers(-(1 << 70), 1 << 70),
    st.sampled_from([1 << 64, -1, 10 ** 5000, -(10 ** 5000), 1 << 20000]),
    st.sampled_from(["0xZZZZ14e4", "", "\x00", "e4 14 0", "zz", "0x" + "f" * 5000,
                     "9" * 5000]),
    st.dates(), st.datetimes(), st.times(),
    st.integers(120, 400).map(nested),
    st.integers(120, 400).map(lambda d: nested(d, {"data": "zz"})),
    st.sampled_from([{"number": "0x" + "f" * 300, "bits": 8}, {"number": 1, "bits": 12},
                     {"data": 5}, {"le32": -1}, {"le16": 1 << 20}, {"strings": [1]},
                     {"strings": ["a\x00b"]}, {"set": [[1]]}, {"set": 3}, {"dict": []},
                     {"plane": "IOService"}, {"plane": "IOService", "parent": "arpt"},
                     {"plane": "Nowhere"}, [{"plane": "IODeviceTree", "parent": "pe"}],
                     [{"plane": "IOService", "parent": "arpt"}]]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["id", "class", "parent", "x", "number", "bits"]),
                    st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (dict keys and list indices) into ``value``."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


ALL_PATHS = [p for p in paths(VALID) if p]


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(nasty)
            elif action == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(["colour", "id", "planes", "dict", "bits"]))] = \
                    draw(nasty)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation changed the shape under this path
    return doc


def check_model(model: MachineModel) -> None:
    """A model read from a file writes back to an equal one, builds, and summarises."""
    again = parse_machine(dump_machine(model), source="again.toml")
    assert again.root == model.root
    assert dict(again.root_properties) == dict(model.root_properties)
    host = SimpleNamespace(classes=ClassRegistry(), registry=IORegistry(), kernel=None)
    try:
        populate(host, model)
    except MachineModelError:
        pass
    dumps(summary(model), indent=2)


@FUZZ
@given(mutated_documents())
def test_mutated_models_give_a_model_or_our_error(doc: dict[str, Any]) -> None:
    try:
        model = parse_document(doc, source="fuzz.toml")
    except MachineModelError as error:
        assert error.diagnostic.file == "fuzz.toml"
        assert_well_formed(error)
        return
    check_model(model)


snippets = st.one_of(
    st.integers(100, 1500).map(lambda n: "x = " + "[" * n + "]" * n),
    st.integers(100, 600).map(lambda n: "x = " + "{ a = " * n + "1" + " }" * n),
    st.sampled_from(["x = " + "9" * 5000, "x = -" + "9" * 5000, "x = 0x" + "f" * 5000,
                     "x = 0o" + "7" * 9000, "x = 1e999999", 'x = "\\uD800"', "x = \x00",
                     'x = """', "x = [1, 2", "[[nub]]", "[[nub]]\nclass = 5", "[nub",
                     "x = 1979-05-27T07:32:00Z", "x = inf", '"" = 1', "a.b.c = 1",
                     "[root-properties]\nx = { data = \"0xZZZZ\" }", "\ufeff", "\r\n"]),
    st.text(max_size=20),
)


@FUZZ
@given(st.integers(0, SMALL.count("\n")), snippets)
def test_text_spliced_with_nasty_lines_gives_a_model_or_our_error(line: int,
                                                                   snippet: str) -> None:
    lines = SMALL.split("\n")
    text = "\n".join([*lines[:line], snippet, *lines[line:]])
    try:
        model = parse_machine(text, source="fuzz.toml")
    except MachineModelError as error:
        assert error.diagnostic.file == "fuzz.toml"
        assert_well_formed(error)
        return
    check_model(model)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_random_bytes_in_a_file_give_our_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.toml"
    path.write_bytes(data)
    try:
        check_model(read_machine(path))
    except MachineModelError as error:
        assert error.diagnostic.file == str(path)
        assert_well_formed(error)


# -- the CLI, in a subprocess, on a few nasty files --------------------------------------------

def _chain(depth: int) -> str:
    parts = ['[[nub]]\nid = "n0"\nclass = "IOPlatformExpertDevice"\n']
    parts += [f'[[nub]]\nid = "n{i}"\nparent = "n{i - 1}"\nclass = "IOService"\nname = "n{i}"\n'
              for i in range(1, depth + 1)]
    return "\n".join(parts)


_VALUE = '[[nub]]\nclass = "IOPlatformExpertDevice"\n[nub.properties]\nx = {}\n'
NASTY_FILES: dict[str, str | bytes] = {
    "inline-deep.toml": _VALUE.format("[" * 1000 + "]" * 1000),
    "value-deep.toml": _VALUE.format("[" * 300 + "]" * 300),
    "digits.toml": _VALUE.format("9" * 5000),
    # tomllib's time and memory grew with the square of a dotted key's parts (20,000: 7 s,
    # 2.4 GB) before the depth could be refused
    "dotted-deep.toml": _VALUE.format("1").replace("x = 1", ".".join(["a"] * 20_000) + " = 1"),
    "root-entry.toml": '[[nub]]\nclass = "IORegistryEntry"\n',
    "loop.toml": ('[[nub]]\nid = "a"\nclass = "IOPlatformExpertDevice"\n'
                  '[[nub]]\nid = "b"\nparent = "a"\nclass = "IOService"\n'
                  'planes = [{ plane = "IOService", parent = "c" }]\n'
                  '[[nub]]\nid = "c"\nparent = "b"\nclass = "IOService"\n'),
    "not-utf8.toml": b"\xff\xfe[[nub]]\n",
    "date.toml": _VALUE.format("1979-05-27T07:32:00Z"),
}


def _run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "iokit_host", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_cli_reports_nasty_files_and_handles_deep_ones(tmp_path: Path) -> None:
    runs: list[tuple[str, int, subprocess.Popen[str]]] = []
    for name, content in NASTY_FILES.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        runs.append((name, 1, _run("machine", "show", str(path))))
    deep = tmp_path / "deep.toml"
    deep.write_text(_chain(1000))
    for args in (("machine", "show", str(deep)), ("machine", "show", "--json", str(deep)),
                 ("ioreg", "--machine", str(deep)), ("ioreg", "-a", "--machine", str(deep)),
                 ("ioreg", "--json", "--machine", str(deep)), ("boot", "--machine", str(deep))):
        runs.append((" ".join(args[:-1]), 0, _run(*args)))
    for label, status, process in runs:
        out, err = process.communicate(timeout=300)
        assert "Traceback" not in out + err, label
        assert "internal error" not in err, (label, err)
        assert process.returncode == status, (label, err[-500:])
        if status:
            assert "error[machine-" in err and ".toml" in err, (label, err)
            assert "sys.set_int_max_str_digits" not in err, label  # Python's words, not ours
        else:
            assert "n1000" in out or '"nubs": 1001' in out or "n999" in out, label
