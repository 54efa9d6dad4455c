"""Which nub an error names: the one the user finds in their file, at any depth, with or
without a name or id: ``nub[N]`` (its ``[[nub]]`` table, counted from 0 in file order) and
its path as ``ioreg`` prints it, from the platform-expert device down."""

from __future__ import annotations

from pathlib import Path

import pytest

from iokit_host.cli import main
from iokit_host.machine import MachineModel, NubSpec, dump_machine
from iokit_host.machine.errors import MachineModelError

_HEAD = """\
[[nub]]
id = "mac"
class = "IOPlatformExpertDevice"
name = "Mac"

[[nub]]
id = "bus"
parent = "mac"
class = "IOService"

[[nub]]
parent = "bus"
class = "IOPCIDevice"
name = "ARPT"
location = "1C"

[[nub]]
id = "dev"
parent = "bus"
class = "IOService"
location = "2"
"""

_BAD_HEX = '\n[nub.properties]\nx = { data = "zz" }\n'


def _error(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str],
           command: str = "ioreg") -> str:
    path = tmp_path / "model.toml"
    path.write_text(text)
    argv = ["ioreg", "-M", str(path)] if command == "ioreg" else ["boot", "--machine", str(path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("text", "named"), [
    # The root nub is named by its name, not "root" (a word the file may not hold).
    (_HEAD.replace('name = "Mac"\n', 'name = "Mac"' + _BAD_HEX, 1), "(in nub[0] Mac)"),
    # Unnamed: its class, as ioreg shows it.
    (_HEAD.replace('class = "IOService"\n', 'class = "IOService"' + _BAD_HEX, 1),
     "(in nub[1] Mac/IOService)"),
    (_HEAD.replace('location = "1C"\n', 'location = "1C"' + _BAD_HEX, 1),
     "(in nub[2] Mac/IOService/ARPT@1C)"),
    (_HEAD + _BAD_HEX, "(in nub[3] Mac/IOService/IOService@2)"),
    (_HEAD + '\n[[nub]]\nparent = "dev"\nclass = "IOService"\nname = "Leaf"' + _BAD_HEX,
     "(in nub[4] Mac/IOService/IOService@2/Leaf)"),
])
def test_a_value_error_names_the_nub_and_its_printed_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str) -> None:
    assert named in _error(tmp_path, text, capsys)


def test_an_error_before_the_path_is_known_names_the_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(tmp_path, _HEAD + 'colour = "red"\n', capsys)
    assert "unknown key 'colour' (in nub[3])" in err and "in nub nub" not in err


def test_a_duplicate_id_names_both_nubs(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(tmp_path, _HEAD.replace('id = "dev"', 'id = "bus"'), capsys)
    assert "id 'bus' is already used by nub[1] Mac/IOService" in err
    assert "(in nub[3] Mac/IOService/IOService@2)" in err


@pytest.mark.parametrize("command", ["ioreg", "boot"])
def test_iokit_resources_out_of_place_names_its_nub(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = _HEAD + '\n[[nub]]\nparent = "dev"\nclass = "IOResources"\n'
    err = _error(tmp_path, text, capsys, command)
    assert "(in nub[4] Mac/IOService/IOService@2/IOResources)" in err


def test_an_entry_is_not_called_a_nub(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(tmp_path, _HEAD + '\n[[entry]]\nclass = "IOService"' + _BAD_HEX.replace(
        "nub.", "entry."), capsys)
    assert "(in entry[0])" in err and "in nub" not in err


def test_writing_a_model_names_the_nub_as_reading_it_would() -> None:
    # A model made in code (or imported) holding what the file cannot: the writer names the
    # nub the file it writes would hold, not its id or its class alone.
    bad = NubSpec("IOService", name="Dev", properties={"x": 1.5})
    model = MachineModel("m", "", NubSpec("IOPlatformExpertDevice", name="Mac", children=(
        NubSpec("IOService"), NubSpec("IOService", id="bus", children=(bad,)))),
        source="dump.txt")
    with pytest.raises(MachineModelError) as caught:
        dump_machine(model)
    assert caught.value.diagnostic.subject == "nub[3] Mac/IOService/Dev"
    assert caught.value.diagnostic.key == "properties.x"
    assert caught.value.diagnostic.file == "dump.txt"  # the import's source: it had none
