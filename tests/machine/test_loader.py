"""load_machine / list_machines: finding the machine a host boots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iokit_host.errors import IOKitError
from iokit_host.machine import MachineModel, NubSpec, list_machines, load_machine
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import dump_machine


def test_no_spec_is_the_default_laptop() -> None:
    model = load_machine(None)
    assert model.name == "default"
    assert model.root.class_name == "IOPlatformExpertDevice"


def test_list_names_builtins_and_host() -> None:
    names = dict(list_machines())
    assert "default" in names and "host" in names
    assert "MacBookPro8,2" in names["default"]


def test_a_model_object_is_used_as_is() -> None:
    model = MachineModel("x", "", NubSpec("IOPlatformExpertDevice"))
    assert load_machine(model) is model


def test_a_toml_path_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(dump_machine(MachineModel("mine", "d", NubSpec("IOPlatformExpertDevice"))),
                    encoding="utf-8")
    assert load_machine(str(path)).name == "mine"
    assert load_machine(path).source == str(path)


def test_unknown_names_suggest_known_ones() -> None:
    with pytest.raises(MachineModelError) as caught:
        load_machine("defualt")
    assert caught.value.ref == "machine-unknown"
    assert "did you mean 'default'?" in (caught.value.diagnostic.hint or "")


def test_a_missing_file_path_is_not_found() -> None:
    with pytest.raises(MachineModelError) as caught:
        load_machine("/nowhere/model.toml")
    assert caught.value.ref == "machine-model-not-found"


@pytest.mark.parametrize("path", ["m" * 300, "/".join(["m" * 200] * 30)])
def test_a_name_too_long_for_the_system_is_not_found(path: str) -> None:
    # Path.is_file raised ENAMETOOLONG: `iokit boot -M <long name>` was a bare file-error.
    with pytest.raises(MachineModelError) as caught:
        load_machine(path)
    assert caught.value.ref in ("machine-unknown", "machine-model-not-found")


def test_an_ioreg_dump_is_detected_by_content(corpus: Path) -> None:
    pytest.importorskip("iokit_host.ioreg_import")
    dump = corpus / "ioreg" / "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt"
    model = load_machine(str(dump))
    assert isinstance(model, MachineModel)
    assert any(n.name == "ARPT" for _, n in model.nubs())


PASTED_DUMP = """\
user@mac ~ % ioreg -lw0
\t+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
\t  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>
\t    +-o ARPT@0  <class IOPCIDevice, id 0x100000111, registered, retain 4>
"""


def test_a_pasted_dump_after_a_prompt_line_is_still_a_dump(tmp_path: Path) -> None:
    pytest.importorskip("iokit_host.ioreg_import")
    path = tmp_path / "posted.txt"
    path.write_text(PASTED_DUMP)
    model = load_machine(str(path))
    assert [n.name for _, n in model.nubs()] == ["Mac", "ARPT"]
    assert {d.reference for d in model.diagnostics} == {"ioreg-dump-noise", "ioreg-dump-indent"}
    with pytest.raises(IOKitError) as caught:
        load_machine(str(path), strict=True)
    assert caught.value.ref == "ioreg-dump-invalid"


def test_a_folder_or_a_pipe_given_as_machine_says_what_it_is(tmp_path: Path) -> None:
    # Both were "no machine-model file at PATH", though something was there.
    fifo = tmp_path / "m.fifo"
    os.mkfifo(fifo)
    for where, what in ((tmp_path, "is a folder"), (fifo, "is a pipe")):
        with pytest.raises(MachineModelError) as caught:
            load_machine(str(where))
        assert caught.value.diagnostic.reference == "machine-model-not-found"
        assert caught.value.diagnostic.file == str(where)
        assert what in caught.value.diagnostic.message
