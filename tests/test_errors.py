"""Diagnostics name the reference, file, key and hint a user needs to act."""

from __future__ import annotations

import json

from iokit_host.errors import Diagnostic, IOKitError, Severity, quoted


def test_diagnostic_text_names_reference_file_key_and_hint() -> None:
    diagnostic = Diagnostic("personality-bad-probe-score", "IOProbeScore must be an integer",
                            file="Info.plist", key="IOKitPersonalities.Foo.IOProbeScore",
                            hint="write <integer>100</integer>")
    text = str(diagnostic)
    assert text.startswith("error[personality-bad-probe-score]: Info.plist: "
                           "IOKitPersonalities.Foo.IOProbeScore: IOProbeScore must be")
    assert "hint: write <integer>100</integer>" in text


def test_text_from_a_file_cannot_forge_a_line_or_drive_the_terminal() -> None:
    diagnostic = Diagnostic("kext-library-missing", "com.evil\nerror[fake]: all is well",
                            file="k/\u2028Info.plist", key="IOKitPersonalities.P\x1b]0;pwned\x07",
                            hint="\x9bcheck")
    text = str(diagnostic)
    assert text.splitlines() == [
        ("error[kext-library-missing]: k/\\u2028Info.plist: IOKitPersonalities.P\\x1b]0;pwned"
         "\\x07: com.evil\\nerror[fake]: all is well"), "  hint: \\x9bcheck"]
    assert str(Diagnostic("x", "Grüße, 名前 'quoted'")) == "error[x]: Grüße, 名前 'quoted'"


def test_diagnostic_json_leaves_out_what_it_does_not_know() -> None:
    data = Diagnostic("kext-library-missing", "no such library",
                      severity=Severity.WARNING).to_json()
    assert json.loads(json.dumps(data)) == {"reference": "kext-library-missing",
                                            "severity": "warning", "message": "no such library"}


def test_error_subclass_carries_its_reference_and_can_override_it() -> None:
    class MachineError(IOKitError):
        reference = "machine-model-invalid"

    assert MachineError("bad").ref == "machine-model-invalid"
    assert MachineError("bad", reference="machine-plane-unknown").ref == "machine-plane-unknown"


def test_a_quoted_value_is_short_however_it_nests() -> None:
    assert quoted(["uid", 501]) == "['uid', 501]"  # short values whole
    deep = [[["x" * 2000] * 4] * 4] * 4  # each level within reprlib's bounds, 4 KB in all
    text = quoted(deep)
    assert len(text) <= 160 and text.startswith("[[['xxx") and text.endswith("...")
