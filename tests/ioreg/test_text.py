"""The text layout: node lines, guides, property blocks and the -d/-w/-r/-t/-i/-S options."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk.service import ServiceState

from iokit_host.ioreg import (
    IoregOptions,
    UnknownPlaneError,
    iter_text_lines,
    render_text,
    write_text,
)
from iokit_host.ioreg import text as text_output
from iokit_host.registry import IORegistry

from .conftest import Maker
from .test_format import keys, values


@pytest.fixture
def small(registry: IORegistry, make: Maker) -> IORegistry:
    pe = make(None, "IOPlatformExpertDevice", name="MacBookPro8,2", busy_ms=32909,
              props={"model": b"MacBookPro8,2\x00"})
    ape = make(pe, "AppleACPIPlatformExpert", busy_ms=7721)
    make(ape, "IOPMrootDomain", busy_ms=13, props={"AppStatistics": []})
    make(pe, "IOResources", busy_ms=1)
    return registry


def test_tree_without_properties(small: IORegistry) -> None:
    text = render_text(small, IoregOptions(state=False))
    assert text == (
        "+-o Root  <class IORegistryEntry>\n"
        "  +-o MacBookPro8,2  <class IOPlatformExpertDevice>\n"
        "    +-o AppleACPIPlatformExpert  <class AppleACPIPlatformExpert>\n"
        "    | +-o IOPMrootDomain  <class IOPMrootDomain>\n"
        "    +-o IOResources  <class IOResources>\n")


def test_property_blocks_carry_the_guides(small: IORegistry) -> None:
    lines = render_text(small, IoregOptions(list_properties=True, state=False)).splitlines()
    assert lines[5:10] == [
        "  +-o MacBookPro8,2  <class IOPlatformExpertDevice>",
        "    | {",
        '    |   "model" = <"MacBookPro8,2">',
        "    | }",
        "    | ",
    ]
    # A node with a following sibling and no children: sibling guide, then two spaces.
    assert lines[10:15] == [
        "    +-o AppleACPIPlatformExpert  <class AppleACPIPlatformExpert>",
        "    | | {",
        "    | | }",
        "    | | ",
        "    | +-o IOPMrootDomain  <class IOPMrootDomain>",
    ]
    assert lines[-4:] == ["    +-o IOResources  <class IOResources>", "        {", "        }",
                          "        "]


def test_node_line_state_and_ids(small: IORegistry) -> None:
    first = render_text(small).splitlines()[:2]
    assert first[0].startswith("+-o Root  <class IORegistryEntry, id 0x100000100, retain ")
    assert first[1].startswith("  +-o MacBookPro8,2  <class IOPlatformExpertDevice, "
                               "id 0x100000101, registered, matched, active, busy 0 (32909 ms), "
                               "retain ")


@pytest.mark.parametrize(("state", "busy", "busy_ns", "text"), [
    (0, 0, 0, "!registered, !matched, active, busy 0,"),
    (ServiceState.INACTIVE, 0, 0, "!registered, !matched, inactive, busy 0,"),
    (ServiceState.REGISTERED | ServiceState.MATCHED, 2, 999_999,
     "registered, matched, active, busy 2 (0 ms),"),
    (ServiceState.REGISTERED, 1, 1_500_000, "registered, !matched, active, busy 1 (1 ms),"),
])
def test_state_part(registry: IORegistry, make: Maker, state: int, busy: int, busy_ns: int,
                    text: str) -> None:
    service = make(None, "IOService", state=state)
    service._busy = busy
    service._busy_time_ns = busy_ns
    assert text in render_text(registry).splitlines()[1]


def test_location_and_per_plane_name(registry: IORegistry, make: Maker) -> None:
    pe = make(None, "IOPlatformExpertDevice", name="MacBookPro8,2", plane="IODeviceTree")
    pe.set_name("/", plane="IODeviceTree")
    make(pe, "IOACPIPlatformDevice", name="PCI0", location="0", plane="IODeviceTree")
    lines = render_text(registry, IoregOptions(plane="IODeviceTree", state=False)).splitlines()
    assert lines[1:] == ["  +-o /  <class IOPlatformExpertDevice>",
                         "    +-o PCI0@0  <class IOACPIPlatformDevice>"]


def test_inheritance(small: IORegistry) -> None:
    lines = render_text(small, IoregOptions(inheritance=True, state=False)).splitlines()
    assert lines[0] == "+-o Root  <class IORegistryEntry>"
    assert lines[4] == "    +-o IOResources  <class IORegistryEntry:IOService:IOResources>"
    assert "<class IORegistryEntry:IOService:IOPlatformExpert:IODTPlatformExpert:" \
           "IOACPIPlatformExpert:AppleACPIPlatformExpert>" in lines[2]


def test_depth_limit(small: IORegistry) -> None:
    assert len(render_text(small, IoregOptions(depth=1)).splitlines()) == 1
    lines = render_text(small, IoregOptions(depth=2, list_properties=True,
                                            state=False)).splitlines()
    # At the limit the node shows no has-children guide, as ioreg.
    assert lines[-5:] == ["  +-o MacBookPro8,2  <class IOPlatformExpertDevice>", "      {",
                          '        "model" = <"MacBookPro8,2">', "      }", "      "]


def test_width_clips_with_dollar(small: IORegistry) -> None:
    lines = render_text(small, IoregOptions(width=30)).splitlines()
    assert all(len(line) <= 30 for line in lines)
    assert lines[1] == "  +-o MacBookPro8,2  <class I$"
    exact = render_text(small, IoregOptions(width=31, state=False)).splitlines()
    assert exact[0] == "+-o Root  <class IORegistryEntry>"[:30] + "$"
    assert render_text(small, IoregOptions(width=34, state=False)).splitlines()[0] == \
        "+-o Root  <class IORegistryEntry>"


def test_width_turns_newlines_into_spaces(registry: IORegistry, make: Maker) -> None:
    make(None, props={"note": "two\nlines"})
    clipped = render_text(registry, IoregOptions(list_properties=True, width=200))
    assert '"note" = "two lines"' in clipped
    assert '"note" = "two\nlines"' in render_text(registry, IoregOptions(list_properties=True))


def test_matched_entries_show_properties_without_l(small: IORegistry) -> None:
    lines = render_text(small, IoregOptions(class_name="IOPMrootDomain", state=False)).splitlines()
    assert lines[4:8] == ["    |     {", '    |       "AppStatistics" = ()', "    |     }",
                          "    |     "]
    assert sum(line.endswith("{") for line in lines) == 1


def test_root_option_prints_matched_subtrees(small: IORegistry) -> None:
    text = render_text(small, IoregOptions(root=True, class_name="IOService", state=False))
    # The platform device matches first; its subtree includes every other IOService.
    assert text.splitlines()[0] == "+-o MacBookPro8,2  <class IOPlatformExpertDevice>"
    assert text.endswith("      }\n      \n\n")
    assert text.count("+-o MacBookPro8,2") == 1


def test_root_and_tree_show_ancestors(small: IORegistry) -> None:
    text = render_text(small, IoregOptions(root=True, tree=True, name="IOPMrootDomain",
                                           state=False))
    assert text == ("+-o Root  <class IORegistryEntry>\n"
                    "  +-o MacBookPro8,2  <class IOPlatformExpertDevice>\n"
                    "    +-o AppleACPIPlatformExpert  <class AppleACPIPlatformExpert>\n"
                    "      +-o IOPMrootDomain  <class IOPMrootDomain>\n"
                    "          {\n"
                    '            "AppStatistics" = ()\n'
                    "          }\n"
                    "          \n"
                    "\n")


def test_root_without_criteria_prints_nothing(small: IORegistry) -> None:
    assert render_text(small, IoregOptions(root=True)) == ""


def test_several_matches_each_end_with_a_blank_line(small: IORegistry) -> None:
    text = render_text(small, IoregOptions(root=True, key="model", state=False))
    assert text.count("\n\n") == 1
    both = render_text(small, IoregOptions(root=True, name="IOResources", depth=1, state=False))
    assert both == "+-o IOResources  <class IOResources>\n    {\n    }\n    \n\n"


def test_unknown_plane_names_known_planes(small: IORegistry) -> None:
    with pytest.raises(UnknownPlaneError) as caught:
        render_text(small, IoregOptions(plane="IOBogus"))
    assert caught.value.ref == "ioreg-unknown-plane"
    assert "IOBogus" in str(caught.value) and "IODeviceTree" in str(caught.value)


def test_multi_parent_entry_prints_under_each_parent(registry: IORegistry, make: Maker) -> None:
    a = make(None, name="A")
    b = make(None, name="B")
    shared = make(a, name="Shared")
    registry.attach(shared, b, "IOService")
    assert render_text(registry, IoregOptions(state=False)).count("+-o Shared") == 2


def test_link_cycle_still_ends(registry: IORegistry, make: Maker) -> None:
    a = make(None, name="A")
    b = make(a, name="B")
    # The registry refuses the loop; forged past it (a bug elsewhere), the output still ends.
    b._children = {"IOService": [a]}
    lines = render_text(registry, IoregOptions(state=False)).splitlines()
    assert [line.strip() for line in lines] == ["+-o Root  <class IORegistryEntry>",
                                               "+-o A  <class IOService>",
                                               "+-o B  <class IOService>"]


def test_deep_chain_does_not_recurse(registry: IORegistry, make: Maker) -> None:
    node = None
    for _ in range(3000):
        node = make(node)
    assert len(list(iter_text_lines(registry, IoregOptions(state=False)))) == 3001


def test_guides_deeper_than_a_machine_word_show_every_sibling_still_to_come(
        registry: IORegistry, make: Maker) -> None:
    # Each level has a second child printed after the first's whole subtree: every column of
    # the deepest line but Root's is a "| ", well past the 64 a machine word of bits holds.
    node = None
    for _ in range(100):
        first = make(node, name="A")
        make(node, name="B")
        node = first
    deepest = max(iter_text_lines(registry, IoregOptions(state=False)), key=len)
    assert deepest == "  " + "| " * 99 + "+-o A  <class IOService>"



@pytest.mark.parametrize("chunk", [1, 30, 1 << 16])
@pytest.mark.parametrize("options", [IoregOptions(list_properties=True),
                                     IoregOptions(root=True, tree=True, name="B", width=20)])
def test_written_in_chunks_as_rendered(registry: IORegistry, make: Maker, chunk: int,
                                       options: IoregOptions,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # write_text hands its stream chunks of whole lines; cut anywhere, the text is the same.
    monkeypatch.setattr(text_output, "CHUNK_CHARS", chunk)
    node = None
    for _ in range(5):
        first = make(node, name="A", props={"k": 1})
        make(node, name="B")
        node = first
    stream = io.StringIO()
    write_text(stream, registry, options)
    assert stream.getvalue() == render_text(registry, options)
    assert stream.getvalue() == "".join(
        f"{line}\n" for line in iter_text_lines(registry, options))


trees = st.recursive(st.just([]), lambda kids: st.lists(kids, max_size=3), max_leaves=12)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=trees, props=st.dictionaries(keys, values, max_size=3),
       width=st.integers(0, 40), depth=st.integers(0, 4), hex_numbers=st.booleans())
def test_render_never_raises(shape: list, props: dict, width: int, depth: int,
                             hex_numbers: bool) -> None:
    registry = IORegistry()
    from iokit_sdk.service import IOService

    pending = [(registry.root, shape)]
    count = 1
    while pending:
        parent, kids = pending.pop()
        for kid_shape in kids:
            kid = IOService(props, name=f"n{count}")
            registry.attach(kid, parent, "IOService")
            count += 1
            pending.append((kid, kid_shape))
    options = IoregOptions(list_properties=True, width=width, depth=depth,
                           hex_numbers=hex_numbers)
    lines = list(iter_text_lines(registry, options))
    if depth == 0 and width == 0:
        assert sum(line.lstrip(" |").startswith("+-o ") for line in lines) == count
    if width:
        assert all(len(line) <= width for line in lines)
