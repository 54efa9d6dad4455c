"""A dump copied out of a web page (``&lt;class ...&gt;``) imports as the dump it was."""

from __future__ import annotations

import html

from iokit_host.ioreg_import import parse_dump

DUMP = """\
+-o Root  <class IORegistryEntry, retain 15>
  +-o Mac  <class IOPlatformExpertDevice, registered, matched, active, busy 0, retain count 17>
    +-o PCI0@0  <class IOPCIDevice, registered, matched, active, busy 0, retain count 9>
        {
          "name" = <"pci-bridge">
          "note" = "A & B"
        }
        
"""


def test_escaped_copy_reads_as_the_dump_with_one_warning() -> None:
    model = parse_dump(html.escape(DUMP, quote=False), source="page.txt")
    plain = parse_dump(DUMP)
    assert model.root == plain.root
    assert model.root.children[0].properties["note"] == "A & B"
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-html-escaped" and warning.key == "line 1"


def test_a_dump_that_merely_mentions_an_entity_is_left_alone() -> None:
    text = DUMP.replace('"A & B"', '"&lt;class x"')
    model = parse_dump(text)
    assert model.root.children[0].properties["note"] == "&lt;class x"
    assert not model.diagnostics
