"""The machine-model file format: reading, writing, and errors that say where and why."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk.values import OSNumber

from iokit_host.machine import MachineModel, NubSpec, PlaneLink
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import dump_machine, parse_document, parse_machine, read_machine

from .conftest import typed_model

SMALL = """
[machine]
name = "tiny"
description = "a platform device and one PCI nub"
planes = ["IOACPIPlane"]

[classes]
MyBridge = "IOPCIBridge"

[[nub]]
id = "pe"
class = "IOPlatformExpertDevice"
name = "Mac"

[[nub]]
id = "pci0"
parent = "pe"
class = "IOACPIPlatformDevice"
name = "PCI0"
location = "0"

[[nub]]
id = "bus"
parent = "pci0"
class = "MyBridge"
recorded-driver = true

[[nub]]
id = "arpt"
parent = "bus"
class = "IOPCIDevice"
name = "ARPT"
location = "1C,1"
planes = [{ plane = "IOACPIPlane", parent = "pci0", name = "ARPT" }]
[nub.properties]
vendor-id = { le32 = 0x14e4 }
"""


def parse(text: str) -> MachineModel:
    return parse_machine(text, source="m.toml")


def error_for(text: str) -> MachineModelError:
    with pytest.raises(MachineModelError) as caught:
        parse(text)
    return caught.value


def test_a_model_reads_as_a_tree_in_file_order() -> None:
    model = parse(SMALL)
    assert (model.name, model.description, model.planes) == (
        "tiny", "a platform device and one PCI nub", ("IOACPIPlane",))
    assert dict(model.classes) == {"MyBridge": "IOPCIBridge"}
    [(depth, arpt)] = [(d, n) for d, n in model.nubs() if n.id == "arpt"]
    assert depth == 3 and arpt.location == "1C,1"
    assert arpt.properties["vendor-id"] == b"\xe4\x14\x00\x00"
    assert arpt.planes == (PlaneLink("IOACPIPlane", "pci0", "ARPT", None),)
    assert model.root.children[0].children[0].recorded_driver


def test_the_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "laptop.toml"
    path.write_text('[[nub]]\nclass = "IOPlatformExpertDevice"\n', encoding="utf-8")
    model = read_machine(path)
    assert model.name == "laptop" and model.source == str(path)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(MachineModelError) as caught:
        read_machine(tmp_path / "nope.toml")
    assert caught.value.ref == "machine-model-not-found"


@pytest.mark.parametrize("text", ["", "\n\n  \n", "\ufeff"])
def test_an_empty_file_is_said_to_be_empty(tmp_path: Path, text: str) -> None:
    # A failed ``ioreg -lw0 > dump.txt`` leaves one; it was told to add a [[nub]].
    path = tmp_path / "dump.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MachineModelError) as caught:
        read_machine(path)
    assert "the file is empty" in caught.value.diagnostic.message
    assert caught.value.diagnostic.file == str(path) and "ioreg" in str(caught.value)


def test_errors_name_file_node_path_key_and_reason() -> None:
    error = error_for(SMALL.replace('vendor-id = { le32 = 0x14e4 }', 'vendor-id = { data = "xyz" }'))
    assert error.ref == "machine-model-bad-hex"
    assert error.diagnostic.file == "m.toml"
    assert error.diagnostic.subject == "nub[3] Mac/PCI0@0/MyBridge/ARPT@1C,1"
    assert error.diagnostic.key == "properties.vendor-id.data"
    assert "(in nub[3] Mac/PCI0@0/MyBridge/ARPT@1C,1)" in str(error) and "hex" in str(error)


@pytest.mark.parametrize(("entry", "key"), [
    ('[entry.properties]\nx = 1.5\n', "properties.x"),
    ('planes = [{ plane = "IODeviceTree", parent = "e1" }]\n', "planes[0].parent"),
])
def test_errors_in_an_entry_name_the_entry_not_the_root(entry: str, key: str) -> None:
    error = error_for('[[nub]]\nid = "pe"\nclass = "IOPlatformExpertDevice"\n'
                      '[[entry]]\nid = "e0"\nclass = "IOService"\n'
                      '[[entry]]\nid = "e1"\nclass = "IOService"\n'
                      'planes = [{ plane = "IODeviceTree", parent = "e2" }]\n'
                      '[[entry]]\nid = "e2"\nclass = "IOService"\n' + entry)
    assert (error.diagnostic.subject, error.diagnostic.key) == ("entry[2]", key), str(error)


@pytest.mark.parametrize(("change", "reference", "key"), [
    (('name = "ARPT"\n', 'name = "ARPT"\ncolour = "red"\n'), "machine-model-unknown-key",
     "colour"),
    (('location = "1C,1"', "location = 7"), "machine-model-wrong-type", "location"),
    (('id = "bus"', 'id = "pci0"'), "machine-model-duplicate-id", "id"),
    (('parent = "bus"', 'parent = "nowhere"'), "machine-model-unknown-id", "parent"),
    (('parent = "pci0", name', 'parent = "ghost", name'), "machine-model-unknown-id",
     "planes[0].parent"),
    (('planes = ["IOACPIPlane"]', "planes = []"), "machine-model-unknown-plane",
     "planes[0].plane"),
    (('MyBridge = "IOPCIBridge"', 'MyBridge = "Other"\nOther = "MyBridge"'),
     "machine-model-class-loop", "classes.MyBridge"),
    (('[machine]', '[machine]\nversion = 2'), "machine-model-unknown-key", "machine.version"),
])
def test_each_kind_of_mistake_has_its_reference(change: tuple[str, str], reference: str,
                                                key: str) -> None:
    error = error_for(SMALL.replace(*change, 1))
    assert error.ref == reference
    assert error.diagnostic.key == key
    assert error.diagnostic.file == "m.toml"


@pytest.mark.parametrize(("change", "key"), [
    (('name = "ARPT"', 'name = "AR\\u0000PT"'), "name"),
    (('location = "1C,1"', 'location = "1C\\u0000"'), "location"),
    (('class = "IOPCIDevice"', 'class = "IOPCI\\u0000Device"'), "class"),
    (('vendor-id = {', '"vendor\\u0000id" = {'), "properties.vendor\x00id"),
    (('vendor-id = { le32 = 0x14e4 }', 'vendor-id = { a = { "b\\u0000" = 1 } }'),
     "properties.vendor-id.a.b\x00"),
])
def test_a_nul_in_a_name_or_key_is_refused_naming_it(change: tuple[str, str], key: str) -> None:
    # IOKit's names, classes and keys are C strings: no kernel holds "AR\0PT", and ioreg
    # printed the NUL raw to the user's terminal.
    error = error_for(SMALL.replace(*change, 1))
    assert error.ref == "machine-model-bad-value"
    assert error.diagnostic.key == key and "NUL" in str(error)


def test_unknown_keys_suggest_the_near_one() -> None:
    error = error_for(SMALL.replace('class = "IOPCIDevice"', 'clas = "IOPCIDevice"\nclass = "IOPCIDevice"'))
    assert error.diagnostic.hint == "did you mean 'class'?"


@pytest.mark.parametrize(("text", "reference"), [
    ("[machine", "machine-model-syntax"),
    ('[machine]\nname = "x"\n', "machine-model-structure"),
    ('[[nub]]\nclass = "A"\n[[nub]]\nclass = "B"\n', "machine-model-structure"),
    ('[[nub]]\nclass = "A"\nparent = "x"\n', "machine-model-structure"),
    ('[[nub]]\nname = "A"\n', "machine-model-structure"),
    (('[[nub]]\nid = "a"\nclass = "A"\n[[nub]]\nparent = "b"\nclass = "B"\n[[nub]]\nid = "b"\n'
     'parent = "a"\nclass = "C"\n'), "machine-model-unknown-id"),
    (('[[nub]]\nid = "a"\nclass = "A"\n[[nub]]\nid = "b"\nparent = "a"\nclass = "B"\n'
     '[[nub]]\nparent = "b"\nclass = "IOResources"\n'), "machine-model-resources-placement"),
    (('[[nub]]\nid = "a"\nclass = "A"\nplanes = [{ plane = "IODeviceTree", parent = "b" }]\n'
     '[[nub]]\nid = "b"\nparent = "a"\nclass = "B"\n'
     'planes = [{ plane = "IODeviceTree", parent = "a" }]\n'), "machine-model-structure"),
    ("nub = 3", "machine-model-structure"),
    ('[[nub]]\nclass = "A"\nrecorded-driver = "yes"\n', "machine-model-wrong-type"),
])
def test_structural_mistakes(text: str, reference: str) -> None:
    assert error_for(text).ref == reference


def test_the_writer_round_trips_the_example() -> None:
    model = parse(SMALL)
    again = parse(dump_machine(model))
    assert typed_model(again) == typed_model(model)


def test_parents_without_ids_get_labels_that_do_not_become_ids() -> None:
    leaf = NubSpec("IOPCIDevice", "ARPT", "0")
    model = MachineModel("m", "", NubSpec("IOPlatformExpertDevice", children=(
        NubSpec("AppleACPIPCI", recorded_driver=True, children=(leaf, leaf)),)))
    text = dump_machine(model)
    assert 'id = "_1"' in text
    assert typed_model(parse(text)) == typed_model(model)


# -- hypothesis: writing then reading gives the same model; nothing but our error escapes ----

#: Text a model holds: no lone surrogate, no NUL (names and keys are C strings).
_TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\0")
names = st.text(alphabet=_TEXT, min_size=1, max_size=8)
props = st.dictionaries(
    st.text(alphabet=_TEXT, max_size=8),
    st.one_of(st.booleans(), names, st.binary(max_size=8),
              st.builds(OSNumber, st.integers(0, (1 << 64) - 1),
                        st.sampled_from([8, 16, 32, 64])),
              st.lists(st.integers(0, 1000), max_size=3)),
    max_size=4)


@st.composite
def models(draw: st.DrawFn) -> MachineModel:
    counter = iter(range(10_000))

    def nub(depth: int) -> NubSpec:
        kids = () if depth > 2 else tuple(draw(st.lists(st.builds(lambda: None), max_size=3)))
        nub_id = draw(st.one_of(st.none(), st.just(f"n{next(counter)}")))
        return NubSpec(draw(names), draw(st.one_of(st.none(), names)),
                       draw(st.one_of(st.none(), names)), draw(props),
                       tuple(nub(depth + 1) for _ in kids), nub_id,
                       recorded_driver=draw(st.booleans()))

    root = nub(0)
    ids = [n.id for _, n in root.walk() if n.id]
    if ids:
        # One extra-plane link, under the plane root or under another nub.
        parent = draw(st.one_of(st.none(), st.sampled_from(ids[1:] or [None])))
        link = PlaneLink("IODeviceTree", parent, draw(st.one_of(st.none(), names)),
                         draw(st.one_of(st.none(), names)))
        root = _replace_planes(root, ids[0], (link,))
    return MachineModel(draw(names), draw(names), root,
                        classes=draw(st.dictionaries(st.sampled_from(["ClassA", "ClassB"]),
                                                     st.just("IOService"))),
                        planes=tuple(draw(st.lists(st.sampled_from(["IOUSB", "IOACPIPlane"]),
                                                   unique=True))),
                        root_properties=draw(props))


def _replace_planes(nub: NubSpec, target: str | None, planes: tuple[PlaneLink, ...]) -> NubSpec:
    from dataclasses import replace

    children = tuple(_replace_planes(c, target, planes) for c in nub.children)
    return replace(nub, children=children, planes=planes if nub.id == target else nub.planes)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_any_model_survives_dump_and_parse(model: MachineModel) -> None:
    again = parse_machine(dump_machine(model))
    assert typed_model(again) == typed_model(model)


toml_ish = st.text(alphabet=st.sampled_from(list('[]{}="\'.,#\n -_01xabnuclsdprtie ')),
                   max_size=120)


@settings(max_examples=300)
@given(st.one_of(toml_ish, st.text(max_size=80)))
def test_arbitrary_text_raises_only_machine_model_errors(text: str) -> None:
    try:
        parse_machine(text)
    except MachineModelError:
        pass


toml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(1 << 65), 1 << 65), st.floats(),
              st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(
                                ["class", "id", "parent", "name", "location", "planes",
                                 "plane", "properties", "number", "bits", "data", "le32",
                                 "strings", "set", "dict", "recorded-driver", "nub",
                                 "machine", "classes", "x"]), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["machine", "classes", "nub", "root-properties", "x"]),
                       toml_values, max_size=4))
def test_arbitrary_structures_raise_only_machine_model_errors(doc: dict[str, object]) -> None:
    # Past tomllib, so structures TOML text could never spell (None, floats) are tried too.
    try:
        parse_document(doc, source="fuzz.toml")
    except MachineModelError:
        pass


# -- deep machines are legal; deep values, huge numbers, loops and a non-service root are not --

def chain_text(depth: int) -> str:
    """A model file: a platform device with a chain of ``depth`` nubs below it."""
    parts = ['[[nub]]\nid = "n0"\nclass = "IOPlatformExpertDevice"\n']
    parts += [f'[[nub]]\nid = "n{i}"\nparent = "n{i - 1}"\nclass = "IOService"\nname = "n{i}"\n'
              for i in range(1, depth + 1)]
    return "\n".join(parts)


@pytest.mark.parametrize("depth", [1000, 5000])
def test_a_chain_of_nubs_thousands_deep_reads_and_writes_back(depth: int) -> None:
    model = parse(chain_text(depth))
    nubs = list(model.nubs())
    assert len(nubs) == depth + 1
    assert nubs[-1] == (depth, NubSpec("IOService", name=f"n{depth}", id=f"n{depth}"))
    assert parse(dump_machine(model)) == model


def test_an_error_deep_in_a_long_chain_names_a_shortened_path() -> None:
    text = chain_text(3000) + ('[[nub]]\nparent = "n3000"\nclass = "IOService"\n'
                               "[nub.properties]\nx = 1.5\n")
    error = error_for(text)
    assert error.ref == "machine-model-wrong-type"
    assert error.diagnostic.key == "properties.x"
    assert error.diagnostic.subject is not None
    assert error.diagnostic.subject.startswith("nub[3001] IOPlatformExpertDevice/n1/n2/")
    assert "more)…" in error.diagnostic.subject
    assert error.diagnostic.subject.endswith("/n3000/IOService")
    assert len(error.diagnostic.subject) < 200


def value_text(value: str) -> str:
    return f'[[nub]]\nclass = "IOPlatformExpertDevice"\n[nub.properties]\nx = {value}\n'


@pytest.mark.parametrize("depth", [129, 300, 1000, 5000])
def test_inline_arrays_nested_past_the_limit_are_refused_with_key_and_depth(depth: int) -> None:
    error = error_for(value_text("[" * depth + "]" * depth))
    assert error.ref == "machine-model-too-deep"
    assert error.diagnostic.file == "m.toml"
    assert error.diagnostic.key is not None and "properties.x" in error.diagnostic.key
    assert "128" in error.diagnostic.message


def test_inline_tables_nested_past_the_limit_are_refused() -> None:
    error = error_for(value_text("{ a = " * 1000 + "1" + " }" * 1000))
    assert error.ref == "machine-model-too-deep"
    assert error.diagnostic.key == "nub.properties.x"
    assert "line 4" in error.diagnostic.message


def test_values_at_the_limit_are_read() -> None:
    model = parse(value_text("[" * 128 + "]" * 128))
    value = model.root.properties["x"]
    for _ in range(127):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("literal", ["9" * 5000, "-" + "9" * 5000, "0x" + "f" * 5000])
def test_integers_past_any_width_are_a_diagnostic_naming_the_file(literal: str) -> None:
    error = error_for(value_text(literal))
    assert error.ref == "machine-model-bad-value"
    assert error.diagnostic.file == "m.toml"
    assert len(str(error)) < 400


@pytest.mark.parametrize("number", ['"' + "9" * 5000 + '"', '"0x' + "f" * 5000 + '"'])
def test_huge_numbers_in_typed_forms_are_a_short_diagnostic(number: str) -> None:
    error = error_for(value_text(f"{{ number = {number}, bits = 32 }}"))
    assert error.ref == "machine-model-bad-value"
    assert error.diagnostic.key == "properties.x.number"
    assert len(str(error)) < 400


@pytest.mark.parametrize("root_class", ["IORegistryEntry", "MyEntry"])
def test_a_root_that_is_not_an_ioservice_is_a_model_error(root_class: str) -> None:
    text = f'[classes]\nMyEntry = "IORegistryEntry"\n[[nub]]\nclass = "{root_class}"\n'
    error = error_for(text)
    assert error.ref == "machine-model-root-not-service"
    assert error.diagnostic.file == "m.toml"
    assert error.diagnostic.key == "class"


LINKED = """
[[nub]]
id = "a"
class = "IOPlatformExpertDevice"
[[nub]]
id = "b"
parent = "a"
class = "IOService"
{b_links}
[[nub]]
id = "c"
parent = "b"
class = "IOService"
[[nub]]
id = "d"
parent = "c"
class = "IOService"
{d_links}
"""


@pytest.mark.parametrize(("b_links", "d_links"), [
    ('planes = [{ plane = "IOService", parent = "c" }]', ""),  # under its own child
    ('planes = [{ plane = "IOService", parent = "d" }]', ""),  # under a grandchild
    ('planes = [{ plane = "IODeviceTree", parent = "d" }]',
     'planes = [{ plane = "IODeviceTree", parent = "b" }]'),  # two links, one loop
])
def test_a_link_under_a_nub_below_itself_is_refused(b_links: str, d_links: str) -> None:
    error = error_for(LINKED.format(b_links=b_links, d_links=d_links))
    assert error.ref == "machine-model-structure"
    assert error.diagnostic.key == "planes[0].parent"
    assert "loop" in error.diagnostic.message


def test_a_second_parent_above_a_nub_is_a_legal_dag() -> None:
    text = LINKED.format(b_links="", d_links='planes = [{ plane = "IOService", parent = "a" }]')
    model = parse(text)
    assert [link.parent for _, n in model.nubs() for link in n.planes] == ["a"]


# -- long class ancestries and many entries: a diagnostic (or the model) at once, never a hang --

def classes_text(names: list[tuple[str, str]]) -> str:
    return ("[classes]\n" + "".join(f'{name} = "{superclass}"\n' for name, superclass in names)
            + '[[nub]]\nid = "pe"\nclass = "IOPlatformExpertDevice"\n'
            + '[[nub]]\nparent = "pe"\nclass = "C0"\n')


@pytest.mark.parametrize("backwards", [False, True])
def test_a_class_ancestry_100000_long_is_refused_naming_its_ends(backwards: bool) -> None:
    # Each class was walked to the end of its chain, and the chain searched as a list: a
    # chain this long took minutes, and booting it would synthesise 100,000 classes.
    names = [(f"C{i}", f"C{i + 1}") for i in range(100_000)] + [("C100000", "IOService")]
    error = error_for(classes_text(names[::-1] if backwards else names))
    assert error.ref == "machine-model-too-deep"
    assert error.diagnostic.key is not None and error.diagnostic.key.startswith("classes.C")
    assert "more than 256" in error.diagnostic.message
    assert len(error.diagnostic.message) < 400


def test_a_class_ancestry_of_real_length_is_read() -> None:
    names = [(f"C{i}", f"C{i + 1}") for i in range(40)] + [("C40", "IOPCIDevice")]
    assert parse(classes_text(names)).classes["C0"] == "C1"


def test_a_class_loop_100000_long_names_a_shortened_loop() -> None:
    error = error_for(classes_text([(f"C{i}", f"C{(i + 1) % 100_000}")
                                    for i in range(100_000)]))
    assert error.ref == "machine-model-class-loop"
    assert "C0 -> C1 -> " in error.diagnostic.message and "more) -> " in error.diagnostic.message
    assert error.diagnostic.message.endswith("-> C0")
    assert len(error.diagnostic.message) < 400


def test_twenty_thousand_entries_chained_in_a_plane_read() -> None:
    # The ids were gathered again for every entry: 20,000 entries took a minute.
    parts = ['[[nub]]\nid = "pe"\nclass = "IOPlatformExpertDevice"\n']
    parts += [f'[[entry]]\nid = "e{i}"\nclass = "IOService"\nplanes = [{{ plane = '
              f'"IODeviceTree"{f", parent = {chr(34)}e{i - 1}{chr(34)}" if i else ""} }}]\n'
              for i in range(20_000)]
    model = parse("".join(parts))
    assert len(model.entries) == 20_000
    assert model.entries[-1].planes[0].parent == "e19998"


# -- the file's bytes: encodings, and reasons a user can act on -------------------------------

def test_a_model_saved_as_utf16_with_its_mark_is_read(tmp_path: Path) -> None:
    # Notepad's "Unicode" is UTF-16 with a BOM; it was "'utf-8' codec can't decode byte 0xff".
    path = tmp_path / "m.toml"
    path.write_bytes(SMALL.encode("utf-16"))
    assert read_machine(path) == parse_machine(SMALL, source=str(path))


def test_bytes_that_are_not_utf8_are_named_by_line_and_column(tmp_path: Path) -> None:
    lines = SMALL.split("\n")
    lines[2] += ' # caf\xe9'
    path = tmp_path / "m.toml"
    path.write_bytes("\n".join(lines).encode("latin-1"))
    with pytest.raises(MachineModelError) as caught:
        read_machine(path)
    text = str(caught.value)
    assert "byte 0xe9 at line 3" in text and "codec" not in text
    assert caught.value.diagnostic.hint == "save the file as UTF-8"


def test_an_error_names_its_key_once_and_always_has_a_hint(tmp_path: Path) -> None:
    # "classes.X: classes.X: expected a string", and no hint at all.
    path = _write(tmp_path / "m.toml", SMALL.replace('MyBridge = "IOPCIBridge"',
                                                      "MyBridge = 7"))
    with pytest.raises(MachineModelError) as caught:
        read_machine(path)
    text = str(caught.value)
    assert text.count("classes.MyBridge:") == 1 and "\n  hint: " in text
    with pytest.raises(MachineModelError) as syntax:
        read_machine(_write(tmp_path / "s.toml", SMALL + "\n[[nub]\n"))
    assert syntax.value.diagnostic.hint


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["name", "key", "parent", "plane"])
def test_a_name_of_megabytes_is_not_echoed_back_whole(where: str) -> None:
    # The node path, the key and the message quoted a 100,000-character name in full.
    long = "N" * 100_000
    head = '[[nub]]\nid = "r"\nclass = "IOPlatformExpertDevice"\n[[nub]]\nid = "a"\n'
    text = {"name": head + f'parent = "r"\nclass = "IOService"\nname = "{long}"\n'
                           "[nub.properties]\nx = 1.5\n",
            "key": head + f'parent = "r"\nclass = "IOService"\n[nub.properties]\n"{long}" = 1.5\n',
            "parent": head + f'parent = "{long}"\nclass = "IOService"\n',
            "plane": head + f'parent = "r"\nclass = "IOService"\nplanes = [{{ plane = "{long}", '
                            'parent = "r" }]\n'}[where]
    with pytest.raises(MachineModelError) as caught:
        parse_machine(text, source="f.toml")
    assert len(str(caught.value)) < 1200 and "..." in str(caught.value)


def test_a_property_of_millions_of_items_is_refused_before_any_is_made() -> None:
    # 16 million numbers in one array took 4 GB and over a minute to turn into OSNumbers.
    from iokit_sdk.values import MAX_VALUE_ITEMS

    doc = tomllib.loads(SMALL)
    doc["nub"][1]["properties"] = {"x": [1] * (MAX_VALUE_ITEMS + 1)}
    with pytest.raises(MachineModelError) as caught:
        parse_document(doc, source="big.toml")
    assert caught.value.ref == "machine-model-too-large"
    assert caught.value.diagnostic.key == "properties.x"
    doc["nub"][1]["properties"] = {"x": [[1] * 1000] * (MAX_VALUE_ITEMS // 1000 - 1)}
    parse_document(doc, source="big.toml")  # just under, counted through every level
    # A typed form's table is its value's notation: data in dictionaries counts as a dump's
    # reader counts it (each dictionary's one member), a set's and a dictionary's members
    # count as they are.
    doc["nub"][1]["properties"] = {"x": [{"v": {"data": "00"}}] * (MAX_VALUE_ITEMS // 2)}
    parse_document(doc, source="big.toml")
    for hidden in ({"set": [1] * (MAX_VALUE_ITEMS + 1)},
                   {"dict": {f"k{i}": 1 for i in range(MAX_VALUE_ITEMS + 1)}}):
        doc["nub"][1]["properties"] = {"x": hidden}
        with pytest.raises(MachineModelError, match="holds more than"):
            parse_document(doc, source="big.toml")


def test_a_model_of_more_nubs_than_any_machine_is_refused_before_toml_reads_it() -> None:
    # 900,000 nubs took a gigabyte and half a minute before anything was said.
    from iokit_host.machine.document import MAX_NODES

    extra = '[[nub]]\nid = "n{0}"\nparent = "pe"\nclass = "IOService"\n'
    text = SMALL + "".join(extra.format(i) for i in range(MAX_NODES + 1))
    with pytest.raises(MachineModelError) as caught:
        parse_machine(text, source="many.toml")
    assert caught.value.ref == "machine-model-too-large" and "hint:" in str(caught.value)
    doc = tomllib.loads(SMALL)
    doc["nub"] = doc["nub"] + [{"id": f"n{i}", "parent": "pe", "class": "IOService"}
                               for i in range(MAX_NODES)]
    with pytest.raises(MachineModelError, match="more than the"):
        parse_document(doc, source="many.toml")  # the same, reached as a document


def test_a_model_cut_off_says_so_with_its_last_line() -> None:
    text = SMALL + '\n[[nub]]\nid = "cut'
    with pytest.raises(MachineModelError) as caught:
        parse_machine(text, source="cut.toml")
    assert f"at end of document, line {text.count(chr(10)) + 1})" in str(caught.value)
    assert "cut off" in (caught.value.diagnostic.hint or "")


@pytest.mark.parametrize("header", ["[[ nub ]]", '[["nub"]]', "[[\tentry ]]"])
def test_more_nubs_than_any_machine_are_refused_however_their_headers_are_spelt(
        monkeypatch: pytest.MonkeyPatch, header: str) -> None:
    # TOML lets a header space or quote its key: '[[ nub ]]' went past the count, and TOML
    # built a table of each of 300,000 nubs before the model was refused.
    from iokit_host.machine import format as model_format
    from iokit_host.machine.document import MAX_NODES

    def unreached(text: str, source: str | None) -> None:
        raise AssertionError("TOML read a model the count refuses")

    monkeypatch.setattr(model_format, "_load_toml", unreached)
    extra = f'{header}\nclass = "IOService"\n'
    with pytest.raises(MachineModelError) as caught:
        parse_machine(SMALL + extra * (MAX_NODES + 1), source="many.toml")
    assert caught.value.ref == "machine-model-too-large"


_PLANES_AND_LINKS = """
from iokit_host.machine import parse_machine
count = 200_000
text = ("[machine]\\nplanes = [" + ",".join(f'"P{n}"' for n in range(count)) + "]\\n"
        "[[nub]]\\nid = 'pe'\\nclass = 'IOPlatformExpertDevice'\\nplanes = ["
        + ",".join(f'{{plane = "P{n}"}}' for n in range(count)) + "]\\n")
model = parse_machine(text, source="m.toml")
print(len(model.planes), len(model.root.planes))
"""


def test_each_link_finds_its_plane_at_once() -> None:
    # A link's plane was looked up in a tuple of the declared planes: 30,000 planes each
    # linked took 3 s, 200,000 minutes; now a second or two, the TOML parse.
    done = subprocess.run([sys.executable, "-c", _PLANES_AND_LINKS], capture_output=True,
                          text=True, timeout=60, check=False,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"})
    assert done.stdout == "200000 200000\n", done.stderr[-2000:]
