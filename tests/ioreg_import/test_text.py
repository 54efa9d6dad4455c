"""A dump's bytes as lines: UTF-8, Mac OS Roman or Latin-1 where it is not, CRLF, CR and
byte-order marks."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iokit_host.ioreg.format import format_value
from iokit_host.ioreg_import import IoregDumpInvalid, parse_dump
from iokit_host.ioreg_import import text as text_module
from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.text import decode_dump, split_lines
from iokit_host.ioreg_import.values import parse_value


def test_utf8_is_read_as_is_without_warnings() -> None:
    damage = DumpDamage("d.txt", strict=False)
    assert decode_dump(codecs.BOM_UTF8 + "Zoë\n".encode(), damage) == "Zoë\n"
    assert damage.diagnostics() == ()


def test_lines_that_are_not_utf8_keep_their_bytes_as_latin1_and_are_named() -> None:
    damage = DumpDamage("d.txt", strict=True)  # strict mode accepts it: nothing is lost
    raw = "a\nZoë\n".encode() + b"Andr\xe9\n" + b"\xe5\xca Svetlana\n"
    assert decode_dump(raw, damage).split("\n") == ["a", "Zoë", "André", "åÊ Svetlana", ""]
    (warning,) = damage.diagnostics()
    assert warning.reference == "ioreg-dump-not-utf8"
    assert warning.key == "line 3" and warning.context["count"] == 2
    assert "0xe9" in warning.message


def test_names_ioreg_printed_in_mac_os_roman_read_as_their_text() -> None:
    # CoreFoundation kept these strings in Mac OS Roman and ioreg printed that store: 0xD5 is
    # the apostrophe, 0xCA 0xD1 a no-break space and an em dash (real dumps of 10.8 to 10.14).
    damage = DumpDamage("d.txt", strict=False)
    raw = (b'  |   "BluetoothLocalName" = "Alexander\xd5s MacBook"\n'
           b'  |   "BluetoothLocalName" = "MacBook Pro\xca\xd1 Sam"\n')
    assert decode_dump(raw, damage).split("\n")[:2] == [
        '  |   "BluetoothLocalName" = "Alexander\u2019s MacBook"',
        '  |   "BluetoothLocalName" = "MacBook Pro\u00a0\u2014 Sam"']
    assert damage.diagnostics()[0].context["count"] == 2


def test_data_printed_as_strings_keeps_its_bytes_on_a_line_that_is_not_utf8() -> None:
    # ioreg printed a MAC address's bytes as they were: the model must hold those bytes.
    damage = DumpDamage("d.txt", strict=False)
    line = decode_dump(b'  |   "IOMACAddress" = <"|mbq\xfcK">\n', damage).split("\n")[0]
    value = parse_value(line.split(" = ", 1)[1])
    assert value == b"|mbq\xfcK\x00"
    assert format_value(value).encode("utf-8", "surrogateescape") == b'<"|mbq\xfcK">'


def test_a_line_of_data_openers_that_never_close_reads_once_not_once_per_opener() -> None:
    # Each opener's end used to be searched for to the end of the line: 100,000 openers on
    # a line that is not UTF-8 took minutes. The line is text (its data never ends) and the
    # data printed before the openers keeps its bytes.
    damage = DumpDamage("d.txt", strict=False)
    raw = b'    "k" = (<"\xfc">' + b',<"x' * 100_000 + b"\xff)\n"
    line = decode_dump(raw, damage).split("\n")[0]
    assert line.startswith('    "k" = (<"\udcfc">,<"x,<"x')  # the data's byte kept
    assert line.endswith(',<"x\u00ff)')  # the rest read as the line's legacy text
    assert damage.diagnostics()[0].reference == "ioreg-dump-not-utf8"


def test_utf16_with_a_byte_order_mark_is_decoded() -> None:
    damage = DumpDamage("d.txt", strict=False)
    assert decode_dump("+-o Root\n".encode("utf-16"), damage) == "+-o Root\n"


def test_crlf_and_cr_line_endings_keep_line_numbers() -> None:
    damage = DumpDamage("d.txt", strict=False)
    assert split_lines("a\nb\r\nc\r\n", damage) == ["a", "b", "c", ""]
    (warning,) = damage.diagnostics()
    assert (warning.reference, warning.key, warning.context["count"]) == (
        "ioreg-dump-line-endings", "line 2", 2)
    damage = DumpDamage("d.txt", strict=False)
    assert split_lines("a\rb\r", damage) == ["a", "b", ""]
    assert damage.kinds() == {"ioreg-dump-line-endings"}


def test_a_lone_cr_among_lf_lines_ends_a_line_but_not_inside_a_string() -> None:
    """One line's LF turned into a CR merged the next entry into it: silently one nub less,
    even with --strict. A CR inside a string value (ioreg prints it raw) is kept."""
    damage = DumpDamage("d.txt", strict=False)
    text = ('+-o A  <class IOService>\r  +-o B  <class IOService>\n'
            '    "note" = "one\rtwo"\n    }\r  +-o C  <class IOService>\n')
    assert split_lines(text, damage) == [
        "+-o A  <class IOService>", "  +-o B  <class IOService>", '    "note" = "one\rtwo"',
        "    }", "  +-o C  <class IOService>", ""]
    (warning,) = damage.diagnostics()
    assert (warning.reference, warning.key) == ("ioreg-dump-line-endings", "line 1")
    assert warning.context["count"] == 2


def test_lf_text_is_not_damage() -> None:
    damage = DumpDamage("d.txt", strict=True)
    assert split_lines("\ufeffa\nb", damage) == ["a", "b"]


def test_windows_1252_lines_keep_their_curly_quotes_and_latin1_fills_its_gaps() -> None:
    damage = DumpDamage("d.txt", strict=False)
    raw = b"\x93IOClass\x94 = \x93x\x94\n" + b"undefined \x81 byte \xe9\n"
    assert decode_dump(raw, damage).split("\n") == [
        "\u201cIOClass\u201d = \u201cx\u201d", "undefined \x81 byte \u00e9", ""]
    assert damage.diagnostics()[0].context["count"] == 2


def test_nul_characters_are_removed_with_a_warning_naming_the_first_line() -> None:
    damage = DumpDamage("d.txt", strict=False)
    text = "+-o Root\n" + "  +-o Mac  <class X>".encode("utf-16-le").decode("latin-1") + "\n"
    assert split_lines(text, damage) == ["+-o Root", "  +-o Mac  <class X>", ""]
    (warning,) = damage.diagnostics()
    assert (warning.reference, warning.key, warning.context["count"]) == (
        "ioreg-dump-nul", "line 2", 20)


def test_in_a_large_text_only_the_line_that_is_not_utf8_is_read_again() -> None:
    damage = DumpDamage("d.txt", strict=False)
    raw = b"x" * 2_000_000 + b"\n" + b"Andr\xe9\n" + b"y" * 2_000_000
    text = decode_dump(raw, damage)
    assert text.split("\n")[1] == "Andr\u00e9"
    assert damage.diagnostics()[0].key == "line 2"


def _line_by_line(raw: bytes) -> tuple[str, list[int], str]:
    """What decoding says, worked out one line at a time: the text, the numbers of the lines
    that are not UTF-8, and where the first one's first bad byte is."""
    lines, bad, first = [], [], ""
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError as error:
            high = [byte for byte in line if byte >= 0x80]
            if all(0x80 <= byte <= 0x90 or 0x95 <= byte <= 0x9F or 0xC7 <= byte <= 0xD5
                   for byte in high):  # only what ioreg wrote in Mac OS Roman
                lines.append(line.decode("mac_roman"))
            else:
                cp1252 = not any(byte in line for byte in b"\x81\x8d\x8f\x90\x9d")
                lines.append(line.decode("cp1252" if cp1252 else "latin-1"))
            bad.append(number)
            first = first or f"byte 0x{line[error.start]:02x} at column {error.start + 1}"
    return "\n".join(lines), bad, first


_BYTES = st.lists(st.sampled_from([b"a", b"\n", b"\xe9", b"\x81", b"\xc3\xa9", b"\xc3", b"\xe2\x80",
                                   b"\xf0\x9f\x98\x80", b" ", b"\r"]), max_size=60).map(b"".join)


@settings(max_examples=150, deadline=None)
@given(_BYTES, st.sampled_from([(1 << 20, 1 << 10), (8, 2), (1, 1)]))
def test_each_line_that_is_not_utf8_is_decoded_on_its_own_and_counted(
        raw: bytes, runs: tuple[int, int]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Short runs put their ends everywhere a long dump's would fall.
        monkeypatch.setattr(text_module, "_RUN", runs[0])
        monkeypatch.setattr(text_module, "_RUN_AFTER", runs[1])
        damage = DumpDamage("d.txt", strict=False)
        expected, bad, first = _line_by_line(raw)
        assert decode_dump(raw, damage) == expected
    if not bad:
        assert damage.diagnostics() == ()
        return
    (warning,) = damage.diagnostics()
    assert (warning.key, warning.context["count"]) == (f"line {bad[0]}", len(bad))
    assert first in warning.message


def test_a_dump_made_of_lines_that_are_not_utf8_is_read_whole() -> None:
    damage = DumpDamage("d.txt", strict=False)
    # Each decoding error copies the bytes it was given: after one, the runs are short, so
    # this reads in linear time instead of copying the rest of the dump per line.
    raw = b"Andr\xe9\n" * 200_000
    assert decode_dump(raw, damage).count("Andr\u00e9") == 200_000
    assert damage.diagnostics()[0].context["count"] == 200_000


_VALUE_BYTES = st.lists(st.sampled_from([b'<"', b'">', b'"', b"\xfc", b"\xd5", b"\xe9", b"a",
                                         b",", b"=", b"(", b")", b"{", b"}", b"<", b">", b" ",
                                         b"\xc3\xa9"]), max_size=14).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(_VALUE_BYTES, _VALUE_BYTES)
@example(b'"a=<"\xfc">"', b"")
@example(b'{"a=<"\xfc">"=1}', b"")
@example(b'<"">', b',<"\xfc')
def test_bytes_kept_for_data_never_reach_a_string(value: bytes, key: bytes) -> None:
    assert "\udcfc" not in decode_dump(b'+-o a=<"\xfc">  <class X, id 0x1>\n',
                                        DumpDamage("d.txt", strict=False))  # a name is text
    # A surrogate escape in a string could be written by nothing (a TOML model, a UTF-8
    # file): only data may keep a byte that is not UTF-8.
    dump = (b"+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n"
            b"  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"
            b'    | {\n    |   "k' + key + b'" = ' + value + b"\n    | }\n    | \n"
            b"    +-o PCI0  <class IOPCIDevice, id 0x100000111, registered, retain 4>\n")
    try:
        model = parse_dump(dump, strict=False)
    except IoregDumpInvalid:
        return
    for _, nub in model.nubs():
        for key_text, item in nub.properties.items():
            assert all(not any(0xDC80 <= ord(char) <= 0xDCFF for char in text)
                       for text in _strings(item) + [key_text]), (key_text, item)


def _strings(value: object) -> list[str]:
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found += item.keys()
            stack += item.values()
        elif isinstance(item, (list, frozenset)):
            stack += item
    return found
