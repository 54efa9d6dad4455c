"""Lines broken at a fixed width joined back; lines that only look broken left alone."""

from __future__ import annotations

from iokit_host.ioreg_import import parse_dump
from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.wrapping import unwrap_lines

LINES = [
    "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>",
    "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>",
    "    {",
    '      "IOPlatformSerialNumber" = "C02XY"',
    '      "model" = <"MacBookPro8,2">',
    '      "IOPlatformUUID" = "3395359E-035A-5F2A-B9A2-3A8F467D37C8"',
    "    }",
]


def _fold(lines: list[str], width: int) -> list[str]:
    return [line[start:start + width] for line in lines
            for start in range(0, max(len(line), 1), width)]


def test_a_folded_dump_reads_as_the_dump() -> None:
    text = "\n".join(_fold(LINES, 30))
    model = parse_dump(text, source="mail.txt")
    clean = parse_dump("\n".join(LINES))
    assert model.root == clean.root and model.root_properties == clean.root_properties
    (warning,) = model.diagnostics
    assert (warning.reference, warning.key) == ("ioreg-dump-wrapped", "line 2")


def test_a_folded_line_of_megabytes_reads_back_whole() -> None:
    # Each piece used to be added to its line by copying the line so far: a 2 MB
    # IOKitDiagnostics folded at 78 columns (27,000 pieces) took a minute; it is joined once.
    classes = ",".join(f'"Class{n}"={n}' for n in range(120_000))
    lines = [*LINES[:-1], f'      "IOKitDiagnostics" = {{"Classes"={{{classes}}}}}', "    }"]
    model = parse_dump("\n".join(_fold(lines, 78)), source="mail.txt")
    assert len(model.root.properties["IOKitDiagnostics"]["Classes"]) == 120_000
    assert [d.reference for d in model.diagnostics] == ["ioreg-dump-wrapped"]


def test_line_numbers_stay_those_of_the_file() -> None:
    damage = DumpDamage("d.txt", strict=False)
    folded = _fold(LINES, 30)
    assert len(unwrap_lines(folded, damage)) == len(folded)


def test_a_multi_line_string_in_a_dump_that_is_not_wrapped_is_left_alone() -> None:
    lines = [*LINES[:3], '      "IO80211HardwareVersion" = "vendorid: 0x14e4', "deviceid: 0x4331",
             "radiorev: 0x2059000", 'chipnum: 0x4331"', *LINES[3:]]
    damage = DumpDamage("d.txt", strict=True)
    assert unwrap_lines(lines, damage) == lines
    model = parse_dump("\n".join(lines))
    assert model.root.properties["IO80211HardwareVersion"] == (
        "vendorid: 0x14e4\ndeviceid: 0x4331\nradiorev: 0x2059000\nchipnum: 0x4331")


def test_a_dump_clipped_by_ioreg_w_is_not_taken_for_a_wrapped_one() -> None:
    damage = DumpDamage("d.txt", strict=False)
    clipped = [line[:40] for line in LINES]
    assert unwrap_lines(clipped, damage) == clipped
    assert damage.kinds() == frozenset()
