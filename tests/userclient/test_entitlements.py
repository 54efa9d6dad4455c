"""The operator's entitlement policy: grants by uid, group and executable; damaged entries are
reported and grant nothing; only an unreadable file is refused whole."""

from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.userclient.entitlements import EntitlementPolicyError, read_policy


def _policy(tmp_path: Path, text: str) -> tuple[object, list[Diagnostic]]:
    path = tmp_path / "entitlements.toml"
    path.write_text(text, encoding="utf-8")
    problems: list[Diagnostic] = []
    return read_policy(path, problems.append), problems


def test_grants_by_uid_group_and_executable(tmp_path: Path) -> None:
    root_group = grp.getgrgid(0).gr_name
    policy, problems = _policy(tmp_path, f"""
[entitlements."com.example.by-uid"]
uids = [1000, "{pwd.getpwuid(0).pw_name}"]
[entitlements."com.example.by-group"]
gids = ["{root_group}", 4242]
[entitlements."com.example.by-exe"]
executables = ["/usr/local/bin/smc-write"]
""")
    assert problems == []
    granted = policy.entitlements_for  # type: ignore[attr-defined]
    assert granted(1000, [100], None) == {"com.example.by-uid"}
    assert granted(0, [], None) == {"com.example.by-uid"}  # "root" resolved to 0
    assert granted(77, [5, 4242], None) == {"com.example.by-group"}
    assert granted(77, [0], None) == {"com.example.by-group"}
    assert granted(77, [], "/usr/local/bin/smc-write") == {"com.example.by-exe"}
    assert granted(77, [], "/usr/bin/python3") == frozenset()


def test_a_damaged_entry_is_reported_with_its_key_and_grants_nothing(tmp_path: Path) -> None:
    policy, problems = _policy(tmp_path, """
[entitlements."com.example.good"]
uids = [1000]
[entitlements."com.example.bad"]
uids = "everyone"
gids = [true, -1]
executables = "/bin/sh"
[entitlements."com.example.odd"]
users = ["alice"]
uids = ["no-such-user-here"]
[entitlements."com.example.flat"]
""")
    keys = {p.key for p in problems}
    assert {"entitlements.com.example.bad.uids", "entitlements.com.example.bad.gids[0]",
            "entitlements.com.example.bad.executables",
            "entitlements.com.example.odd.users",
            "entitlements.com.example.odd.uids[0]"} <= keys
    # Two bad ids in one array are one diagnostic at the first, with the count of the rest.
    gids = [p for p in problems if p.key and ".bad.gids" in p.key]
    assert len(gids) == 1 and "1 more" in gids[0].message
    assert all(p.reference == "entitlement-policy-invalid" and p.file for p in problems)
    assert policy.entitlements_for(1000, [], None) == {"com.example.good"}  # type: ignore[attr-defined]
    assert policy.entitlements_for(0, [0], "/bin/sh") == frozenset()  # type: ignore[attr-defined]


def test_an_unreadable_file_is_refused_whole(tmp_path: Path) -> None:
    with pytest.raises(EntitlementPolicyError, match="cannot read the entitlement policy"):
        _policy(tmp_path, "[entitlements\n")
    with pytest.raises(EntitlementPolicyError, match="'entitlements' must be a table"):
        _policy(tmp_path, "entitlements = 3\n")
    with pytest.raises(EntitlementPolicyError):
        read_policy(tmp_path / "missing.toml", lambda d: None)


toml_values = st.recursive(
    st.integers(-(1 << 40), 1 << 40) | st.booleans() | st.text(max_size=12)
    | st.just("x" * 5000),
    lambda inner: st.lists(inner, max_size=4), max_leaves=8)
grants = st.dictionaries(st.sampled_from(["uids", "gids", "executables", "other"]), toml_values,
                         max_size=4)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    assert isinstance(value, list)
    return "[" + ", ".join(_toml(v) for v in value) + "]"


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.dictionaries(st.text(min_size=1, max_size=12), grants | toml_values,
                             max_size=4),
       garbage=st.text(max_size=40))
def test_any_policy_gives_only_our_own_diagnostics(tmp_path: Path,
                                                   table: dict[str, object],
                                                   garbage: str) -> None:
    lines = []
    for name, grant in table.items():
        if isinstance(grant, dict):
            body = ", ".join(f"{k} = {_toml(v)}" for k, v in grant.items())
            lines.append(f"{json.dumps(name)} = {{ {body} }}")
        else:
            lines.append(f"{json.dumps(name)} = {_toml(grant)}")
    text = "entitlements = { " + ", ".join(lines) + " }\n"
    for candidate in (text, text + garbage):
        try:
            policy, problems = _policy(tmp_path, candidate)
        except IOKitError as error:
            assert error.diagnostic.reference == "entitlement-policy-invalid"
            continue
        assert all(p.reference == "entitlement-policy-invalid" for p in problems)
        assert all(p.hint and len(str(p)) < 600 for p in problems)  # short, whatever it read
        policy.entitlements_for(os.getuid(), [os.getgid()], None)  # type: ignore[attr-defined]


def test_a_name_with_a_nul_byte_is_no_such_name(tmp_path: Path) -> None:
    # getgrnam and getpwnam raise ValueError on an embedded NUL: one damaged name, no more.
    _, problems = _policy(tmp_path, """
[entitlements."com.example.x"]
gids = ["wheel\\u0000"]
uids = [0]
""")
    named = [p.key for p in problems if "no such name" in p.message]
    assert len(named) == 1 and named[0] is not None and named[0].endswith("gids[0]")


def test_a_fifo_nobody_writes_to_is_refused_at_once(tmp_path: Path) -> None:
    # open() waited for a writer: `iokit kernel --entitlements FIFO` never started, and its
    # SIGTERM handler only restarted the wait; then it started with an empty policy, saying
    # nothing.
    import threading

    fifo = tmp_path / "policy.toml"
    os.mkfifo(fifo)
    refused: list[EntitlementPolicyError] = []

    def read() -> None:
        try:
            read_policy(fifo, lambda d: None)
        except EntitlementPolicyError as error:
            refused.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert refused and "nobody writes to it" in str(refused[0])


def test_a_policy_nested_too_deep_to_parse_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(EntitlementPolicyError) as caught:
        _policy(tmp_path, '[entitlements."a.b"]\nuids = ' + "[" * 2000 + "]" * 2000 + "\n")
    assert caught.value.diagnostic.file is not None
    assert "nest too deep" in caught.value.diagnostic.message
    assert "recursion" not in caught.value.diagnostic.message


def test_a_huge_damaged_array_is_one_short_diagnostic_per_kind(tmp_path: Path) -> None:
    # 200,000 floats gave 200,000 diagnostics, and a 5 MB string was echoed back whole.
    long_text = "x" * 5_000_000
    policy, problems = _policy(tmp_path, f"""
[entitlements."com.example.floats"]
uids = [{"1.5, " * 200_000} 0]
gids = ["no-such-group-here", "no-such-group-here", "no-such-group-here"]
[entitlements."com.example.long"]
uids = "{long_text}"
executables = ["relative/tool", "/usr/bin/ok"]
""")
    floats = [p for p in problems if p.key == "entitlements.com.example.floats.uids[0]"]
    assert len(floats) == 1 and "199999 more" in floats[0].message
    missing = [p for p in problems if p.key and ".floats.gids" in p.key]
    assert len(missing) == 1 and "2 more" in missing[0].message
    assert all(len(str(p)) < 400 for p in problems)
    relative = [p for p in problems if p.key == "entitlements.com.example.long.executables[0]"]
    assert relative and "absolute" in relative[0].message
    assert policy.entitlements_for(0, [], None) == {"com.example.floats"}  # type: ignore[attr-defined]
    assert policy.entitlements_for(5, [], "/usr/bin/ok") == {"com.example.long"}  # type: ignore[attr-defined]


def test_a_misspelt_table_is_reported_not_silently_empty(tmp_path: Path) -> None:
    # [entitlement."x"] (singular) granted nothing and said nothing.
    policy, problems = _policy(tmp_path, """
[entitlement."com.example.smc.write"]
uids = [0]
""")
    assert [p.key for p in problems] == ["entitlement"]
    assert "did you mean 'entitlements'" in problems[0].message
    assert policy.entitlements_for(0, [], None) == frozenset()  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_a_policy_saved_with_a_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes('[entitlements."com.example.x"]\nuids = [0]\n'.encode(encoding))
    policy = read_policy(path, lambda d: None)
    assert policy.entitlements_for(0, [], None) == {"com.example.x"}  # type: ignore[attr-defined]


def test_bytes_that_are_not_text_are_refused_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b'[entitlements."x"]\nuids = ["r\xc3\x28oot"]\n')
    with pytest.raises(EntitlementPolicyError, match=r"byte 0xc3 at line 2, column 11"):
        read_policy(path, lambda d: None)
