"""Reading a dext's entitlements from beside its Info.plist: any bytes give entitlements or
``dext-entitlements-unreadable`` naming the file, never a traceback."""

from __future__ import annotations

import plistlib
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.dext.entitlements import entitlements_file, entitlements_of, read_entitlements
from iokit_host.testing.kexts import kext_bundles

from .conftest import DEXT


def test_the_test_dext_is_signed_with_its_file() -> None:
    bundle, = kext_bundles([DEXT])
    found, problem = entitlements_of(bundle)
    assert problem is None and found.known and found.is_true("com.apple.developer.driverkit")


def test_an_xcode_named_file_is_found_when_it_is_the_only_one(tmp_path: Path) -> None:
    (tmp_path / "MyDriver.entitlements").write_bytes(plistlib.dumps({"a": True}))
    assert entitlements_file(tmp_path) == tmp_path / "MyDriver.entitlements"
    (tmp_path / "Other.entitlements").write_bytes(plistlib.dumps({}))
    assert entitlements_file(tmp_path) is None  # which one is signed in? neither is guessed
    (tmp_path / "Entitlements.plist").write_bytes(plistlib.dumps({}))
    assert entitlements_file(tmp_path) == tmp_path / "Entitlements.plist"


def test_a_codeless_plist_without_a_file_has_unknown_entitlements(tmp_path: Path) -> None:
    signed, = kext_bundles([DEXT])
    codeless = replace(signed, package=None, source=str(tmp_path / "Info.plist"))
    assert entitlements_of(codeless)[0].known is False
    assert entitlements_of(replace(codeless, package="x"))[0].values == {}  # unsigned


_TEXT = st.text(alphabet="ab.-_\u00e9", max_size=8)
_PLISTS = st.one_of(
    st.binary(max_size=200),
    st.recursive(st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), _TEXT),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(_TEXT, inner, max_size=3),
                 max_leaves=12).map(plistlib.dumps),
    st.sampled_from([b"<plist>" + b"<array>" * 600 + b"</array>" * 600 + b"</plist>",
                     plistlib.dumps([1], fmt=plistlib.FMT_BINARY)[:-4]]),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_PLISTS)
def test_any_bytes_read_as_entitlements_or_our_diagnostic(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "Entitlements.plist"
    path.write_bytes(data)
    found, problem = read_entitlements(path)
    if problem is not None:
        assert problem.reference == "dext-entitlements-unreadable"
        assert problem.file == str(path) and problem.hint
        assert dict(found.values) == {}
    else:
        assert all(isinstance(name, str) for name in found.values)
