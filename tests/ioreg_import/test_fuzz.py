"""Fuzzing the dump importer: whatever the text or bytes, only the project's own diagnostics.

A dump either imports, with every tolerated damage a warning of ours (``ioreg-dump-*``), or is
refused with ``ioreg-dump-invalid`` naming the file and line; no other exception, in either
mode, for nonsense bytes, CRLF, tabs, deep nesting, huge numbers or a cut-off tail.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.conformance import check_model
from iokit_host.errors import IOKitError, Severity
from iokit_host.ioreg_import import IoregDumpInvalid, parse_dump
from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.values import parse_value
from iokit_host.machine.model import MachineModel

HEADER = "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
PIECES = st.sampled_from([*'+-o |{}()[]<>",=@:!xX0123456789abcdefYN\n\t\r\u00e9*', "Yes", "No",
                          "+-o ", "  | ", "retain 1", "id 0x1", "  <class IOService, retain 1>",
                          '"key" = ', "\n  +-o A  <class IOService, id 0x100000111, retain 1>",
                          "\r\n", "XXXX", "****", "9" * 4400, "(" * 300, "{" * 300, "$ "])

#: Lines of a small well-formed dump, to damage.
DUMP_LINES = [
    "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>",
    "  | {",
    '  |   "IOKitBuildVersion" = "Darwin"',
    "  | }",
    "  | ",
    "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>",
    "    | {",
    '    |   "IOPlatformSerialNumber" = "C02XY"',
    "    | }",
    "    | ",
    "    +-o PCI0@0  <class IOACPIPlatformDevice, id 0x100000111, registered, retain 4>",
    "    | | {",
    '    | |   "compatible" = <"PNP0A03">',
    '    | |   "nested" = {"a"=(1,2,<00ff>),"b"=Yes}',
    "    | | }",
    "    | | ",
    "    | +-o en0@0  <class IOEthernetInterface, id 0x100000112, registered, retain 4>",
    "    |     {",
    '    |       "IOMACAddress" = <3c07541234a5>',
    "    |     }",
    "    |     ",
    "    +-o IOResources  <class IOResources, id 0x100000113, registered, retain 4>",
    "        {",
    '          "IOKit" = "IOService"',
    "        }",
]
#: What damage can put on a line: the original, or a replacement.
EDITS = st.sampled_from([
    None, "", "XXXX", "<3c07****34a5>", '"C02****"', "9" * 5000, "(" * 5000, "0x" + "f" * 5000,
    "\t", "    ", "\r", "\x00\xff", "$ ioreg -lw0", "  +-o Mac  <class IOPlatformExp",
    '    |   "cut" = {"a"=(1,',
    "    +-o PCI0@0  <class IOACPIPlatformDevice, id 0x100000111, registered, retain 4>",
    "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, retain 4>",
    "      +-o X  <class IOService, id 0x100000110, registered, retain 4>",
    "  +-o Other  <class IORegistryEntry, id 0x100000999, retain 4>",
    "    +-o Root  <class IORegistryEntry, id 0x100000100, retain 10>",
    '    |   "IOProviderClass" = "IOService"', '    |   "IOClass" = "X"',
    # edited ids (one shared by different entries, one unreadable), curly quotes, NULs
    "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000100, retain 4>",
    "    +-o PCI0@0  <class IOACPIPlatformDevice, id 0xXXXXXXXXX, retain 4>",
    "+-o Root  <class IORegistryEntry, id 0x100000110, retain 10>",
    '    |   \u201cIOClass\u201d = \u201cX\u201d', "\x00\x00", "<redacted>",
])


def assert_only_ours(model: MachineModel) -> None:
    for diagnostic in model.diagnostics:
        assert diagnostic.reference.startswith("ioreg-dump-")
        assert diagnostic.severity is Severity.WARNING
        assert diagnostic.key is not None and diagnostic.key.startswith("line ")


def import_or_refuse(text: str | bytes, *, strict: bool = False) -> None:
    try:
        model = parse_dump(text, source="fuzz.txt", strict=strict)
    except IoregDumpInvalid as error:
        assert error.diagnostic.reference == "ioreg-dump-invalid"
        assert error.diagnostic.file == "fuzz.txt"
        return
    assert_only_ours(model)


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=80), st.booleans())
def test_any_text_imports_or_is_refused_with_our_error(pieces: list[str], strict: bool) -> None:
    import_or_refuse(HEADER + "".join(pieces), strict=strict)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_imports_or_is_refused(text: str) -> None:
    import_or_refuse(text)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_nonsense_bytes_import_or_are_refused(raw: bytes, strict: bool) -> None:
    import_or_refuse(raw, strict=strict)
    import_or_refuse(HEADER.encode() + raw, strict=strict)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, len(DUMP_LINES) - 1), EDITS, max_size=6),
       st.integers(0, 4000), st.sampled_from(["\n", "\r\n", "\r"]), st.sampled_from(["", "\t"]),
       st.booleans())
def test_damaged_dumps_import_with_our_warnings_only(
        edits: dict[int, str | None], cut: int, newline: str, indent: str, strict: bool) -> None:
    lines = [line if edits.get(n) is None else str(edits[n]) for n, line in enumerate(DUMP_LINES)]
    text = newline.join(indent + line for line in lines)
    import_or_refuse(text[:cut] if cut < len(text) else text, strict=strict)
    import_or_refuse(text.encode("latin-1", errors="replace"), strict=strict)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(DUMP_LINES)), EDITS), max_size=6))
def test_damaged_dumps_that_import_are_measured_or_refused_with_our_error(
        inserts: list[tuple[int, str | None]]) -> None:
    lines = list(DUMP_LINES)
    for index, text in inserts:
        lines.insert(index, lines[index % len(lines)] if text is None else text)
    try:
        model = parse_dump("\n".join(lines), source="fuzz.txt")
    except IoregDumpInvalid:
        return
    try:
        check_model(model)  # builds the registry, replays the recorded drivers
    except IOKitError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.text(st.sampled_from(list('"{}()[]<>=,0123456789abcdefxXYesNo *\t')), max_size=120))
def test_value_reader_raises_only_its_syntax_error(text: str) -> None:
    try:
        parse_value(text)
    except ValueSyntaxError:
        pass
