"""Damage tallies: one warning per kind, with its count and first line; strict refuses."""

from __future__ import annotations

import pytest

from iokit_host.errors import Severity
from iokit_host.ioreg_import import IoregDumpInvalid
from iokit_host.ioreg_import.damage import BAD_ENTRY, NOT_UTF8, REDACTED, DumpDamage


def test_one_warning_per_kind_with_count_first_line_and_losses() -> None:
    damage = DumpDamage("d.txt", strict=False)
    damage.note(REDACTED, 12, "property 'IOMACAddress', dropped")
    damage.note(BAD_ENTRY, 40, "entry line without a '<class ...>' header")
    damage.note(REDACTED, 30, "property 'serial-number', dropped")
    damage.lose(BAD_ENTRY, 5)
    redacted, bad = damage.diagnostics()
    assert (redacted.reference, redacted.key, redacted.file) == (
        "ioreg-dump-redacted", "line 12", "d.txt")
    assert redacted.severity is Severity.WARNING and redacted.hint
    assert "2, the first at line 12" in redacted.message and "IOMACAddress" in redacted.message
    assert "with the 5 entries below them" in bad.message


def test_strict_refuses_at_the_first_damage_except_for_kept_latin1() -> None:
    damage = DumpDamage("d.txt", strict=True)
    damage.note(NOT_UTF8, 3, "byte 0xe9 is not UTF-8")
    with pytest.raises(IoregDumpInvalid) as info:
        damage.note(REDACTED, 7, "property 'IOMACAddress', dropped")
    assert info.value.diagnostic.reference == "ioreg-dump-invalid"
    assert info.value.diagnostic.key == "line 7"
    assert [d.reference for d in damage.diagnostics()] == ["ioreg-dump-not-utf8"]
