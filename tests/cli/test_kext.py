"""``iokit kext inspect``: manifests from paths and installed ids, with every diagnostic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iokit_host.cli import main


def test_every_corpus_plist_inspects_without_crashing(corpus: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for file in [*(corpus / "plists").iterdir(), *(corpus / "dext").iterdir()]:
        status = main(["kext", "inspect", str(file), "--json"])
        report = json.loads(capsys.readouterr().out)
        assert status == (0 if report["usable"] else 1)
        assert status == 0 or report["diagnostics"]


def test_defines_make_a_source_plist_usable(corpus: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    lilu = str(corpus / "plists" / "acidanthera__Lilu__Lilu_Info.plist")
    assert main(["kext", "inspect", lilu]) == 1
    assert "manifest-build-placeholder" in capsys.readouterr().out
    status = main(["kext", "inspect", lilu, "--define", "PRODUCT_BUNDLE_IDENTIFIER=as.vit9696.Lilu",
                   "--define", "MODULE_VERSION=1.6.7", "--define", "PRODUCT_NAME=Lilu"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("as.vit9696.Lilu (1.6.7) library")
    assert "com.apple.kpi.iokit 10.0.0" in out


def test_kext_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.kext.dists import info_plist

    contents = tmp_path / "Demo.kext" / "Contents"
    contents.mkdir(parents=True)
    (contents / "Info.plist").write_bytes(info_plist("com.example.demo", "2.0b3", personalities={
        "Demo": {"IOProviderClass": "IOPCIDevice", "IOClass": "Demo", "IOProbeScore": "9"}}))
    assert main(["kext", "inspect", str(tmp_path / "Demo.kext"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bundle"]["CFBundleVersion"] == "2.0b3"
    assert [d["reference"] for d in report["diagnostics"]] == ["personality-ill-typed-number"]


def test_unknown_id_is_refused(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    assert main(["kext", "inspect", "com.example.nowhere"]) == 1
    assert "kext-not-installed" in capsys.readouterr().out


def test_ill_typed_keys_are_diagnosed_and_the_rest_kept(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.kext.dists import info_plist

    plist = tmp_path / "Info.plist"
    plist.write_bytes(info_plist("com.example.required", OSBundleRequired=["Root"],
                                 personalities={"P": {"IOProviderClass": "IOPCIDevice",
                                                      "IOClass": "P", "IOPCIMatch": 1.5}}))
    assert main(["kext", "inspect", str(plist), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usable"] and report["bundle"]["IOKitPersonalities"] == {}
    assert [(d["reference"], d["key"]) for d in report["diagnostics"]] == [
        ("personality-unsupported-value", "IOKitPersonalities.P.IOPCIMatch"),
        ("manifest-bad-bundle-required", "OSBundleRequired")]


def test_a_path_that_loops_is_a_path_not_a_bundle_id(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # A symlink loop "did not exist", so it was looked up as a bundle id: "no installed kext".
    loop = tmp_path / "Loop.kext"
    loop.symlink_to(loop)
    assert main(["kext", "inspect", str(loop)]) == 1
    out = capsys.readouterr().out
    assert "error[manifest-not-found]" in out and "symbolic links" in out
    assert "kext-not-installed" not in out


def test_an_empty_manifest_says_it_is_empty(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    plist = tmp_path / "Info.plist"
    plist.write_bytes(b"\n  \n")
    assert main(["kext", "inspect", str(plist)]) == 1
    assert "not a property list: the file is empty" in capsys.readouterr().out


def test_names_from_the_manifest_cannot_drive_the_terminal(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import plistlib

    plist = tmp_path / "Info.plist"  # binary: an XML plist cannot hold an ESC
    plist.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.example.titles", "CFBundleVersion": "1.0",
        "IOKitPersonalities": {"P\x1b]0;pwned\x07": {
            "IOProviderClass": "IOPCIDevice", "IOClass": "Evil\u2028Twin"}}},
        fmt=plistlib.FMT_BINARY))
    main(["kext", "inspect", str(plist)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u2028" not in out  # shown as escapes, not acted on
    assert "P\\x1b]0;pwned\\x07: Evil\\u2028Twin on IOPCIDevice" in out
