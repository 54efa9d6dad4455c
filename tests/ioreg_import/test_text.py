"""A dump's bytes as lines: UTF-8, Latin-1 where it is not, CRLF, CR and byte-order marks."""

from __future__ import annotations

import codecs

from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.text import decode_dump, split_lines


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
