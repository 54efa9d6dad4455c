"""Typographic quotes put back straight on the lines an editor curled, and only there."""

from __future__ import annotations

from iokit_host.ioreg_import import parse_dump
from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.quotes import straighten_quotes

ROOT = "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
MAC = "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"


def test_curled_property_lines_are_read_with_straight_quotes() -> None:
    block = ('    {\n      \u201cIOClass\u201d = \u201cAppleHDA\u201d\n'
             '      \u201cmodel\u201d = <\u201cMacBookPro8,2\u201d>\n'
             '      \u201cnested\u201d = {\u201ca\u201d=1}\n    }\n')
    model = parse_dump(ROOT + MAC + block, source="mail.txt")
    assert dict(model.root.properties) == {"IOClass": "AppleHDA", "model": b"MacBookPro8,2\0",
                                           "nested": {"a": 1}}
    (warning,) = model.diagnostics
    assert (warning.reference, warning.key, warning.context["count"]) == (
        "ioreg-dump-curly-quotes", "line 4", 3)


def test_a_string_that_holds_curly_quotes_keeps_them() -> None:
    damage = DumpDamage("d.txt", strict=True)
    lines = ['      "USB Product Name" = "Bob\u2019s \u201cfast\u201d mouse"', "+-o X"]
    assert straighten_quotes(lines, damage) == lines
    assert damage.kinds() == frozenset()
