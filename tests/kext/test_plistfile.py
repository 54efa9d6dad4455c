"""A plist file read for its top-level dictionary: what Info.plist and Entitlements.plist share."""

from __future__ import annotations

import plistlib

import pytest
from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.kext.plistfile import load_plist


def test_a_dictionary_is_read() -> None:
    info, problem = load_plist("Info.plist", plistlib.dumps({"CFBundleIdentifier": "a.b"}))
    assert problem is None and info == {"CFBundleIdentifier": "a.b"}


@pytest.mark.parametrize(("data", "reference"), [
    (b"not a plist at all", "manifest-unreadable"),
    (plistlib.dumps(["a", "list"]), "manifest-not-a-dictionary"),
])
def test_what_is_not_a_dictionary_is_named_with_its_file(data: bytes, reference: str) -> None:
    info, problem = load_plist("/x/Entitlements.plist", data)
    assert info is None and problem is not None
    assert problem.reference == reference and problem.file == "/x/Entitlements.plist"
    assert problem.hint


def test_a_plist_nested_past_the_limit_is_refused_with_where_and_why() -> None:
    deep: object = "leaf"
    for _ in range(MAX_VALUE_DEPTH + 5):
        deep = [deep]
    info, problem = load_plist("Info.plist", plistlib.dumps({"Deep": deep}))
    assert info is None and problem is not None
    assert problem.reference.startswith("plist-") and (problem.key or "").startswith("Deep")
    assert str(MAX_VALUE_DEPTH) in (problem.hint or "")
