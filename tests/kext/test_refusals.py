"""Refusals: one per manifest, kext or personality set aside, counted from the diagnostics."""

from __future__ import annotations

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext.refusals import count_refusals, personality_published, refused_items

WARNING = Severity.WARNING


def _publishes(bundle_id: str, key: str) -> bool | None:
    """com.x publishes "Good" and "Dotted.Name"; com.gone was refused as a whole."""
    if bundle_id != "com.x":
        return None
    return personality_published(key, ["Good", "Dotted.Name"])


def test_a_manifest_with_two_errors_is_one_refusal() -> None:
    found = [Diagnostic("manifest-missing-bundle-identifier", "no id", file="a.plist"),
             Diagnostic("manifest-bad-version", "bad version", file="a.plist"),
             Diagnostic("manifest-unreadable", "not a plist", file="b.plist")]
    assert refused_items(found, _publishes) == ["kext a.plist", "kext b.plist"]


def test_kext_errors_are_refusals_and_warnings_about_kexts_are_not() -> None:
    found = [Diagnostic("kext-library-missing", "no lib", subject="com.lonely", file="l.plist"),
             Diagnostic("kext-import-failed", "boom", subject="com.broken"),
             Diagnostic("kext-no-kpi-dependency", "no kpi", subject="com.x", severity=WARNING),
             Diagnostic("driver-start-raised", "a driver failed", subject="com.x")]
    assert refused_items(found, _publishes) == ["kext l.plist", "kext com.broken"]


def test_a_personality_is_refused_when_its_kext_does_not_publish_it() -> None:
    def warning(key: str, subject: str = "com.x") -> Diagnostic:
        return Diagnostic("personality-ill-typed-class", "w", key=key, subject=subject,
                          severity=WARNING)

    found = [warning("IOKitPersonalities.Bad.IOClass"),
             warning("IOKitPersonalities.Bad.IOProbeScore"),  # the same personality again
             warning("IOKitPersonalities.Good.IOProbeScore"),  # a key dropped, still published
             warning("IOKitPersonalities.Dotted.Name.IOKitDebug"),
             warning("IOKitPersonalities_x86_64.Other"),
             warning("IOKitPersonalities.Bad.IOClass", subject="com.gone")]  # its kext's refusal
    assert refused_items(found, _publishes) == [
        "personality com.x IOKitPersonalities.Bad",
        "personality com.x IOKitPersonalities_x86_64.Other"]
    whole_table = [Diagnostic("manifest-bad-personalities", "not a dict", severity=WARNING,
                              key="IOKitPersonalities", subject="com.x")]
    assert count_refusals(whole_table, _publishes) == 1
