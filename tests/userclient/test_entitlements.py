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
            "entitlements.com.example.bad.gids[1]", "entitlements.com.example.bad.executables",
            "entitlements.com.example.odd.users",
            "entitlements.com.example.odd.uids[0]"} <= keys
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
    st.integers(-(1 << 40), 1 << 40) | st.booleans() | st.text(max_size=12),
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


def test_a_fifo_nobody_writes_to_reads_as_an_empty_policy_at_once(tmp_path: Path) -> None:
    # open() waited for a writer: `iokit kernel --entitlements FIFO` never started, and its
    # SIGTERM handler only restarted the wait.
    import threading

    fifo = tmp_path / "policy.toml"
    os.mkfifo(fifo)
    read: list[object] = []
    reader = threading.Thread(target=lambda: read.append(read_policy(fifo, lambda d: None)),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert read and read[0].grants == ()  # type: ignore[attr-defined]


def test_a_policy_nested_too_deep_to_parse_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(EntitlementPolicyError) as caught:
        _policy(tmp_path, '[entitlements."a.b"]\nuids = ' + "[" * 2000 + "]" * 2000 + "\n")
    assert caught.value.diagnostic.file is not None
    assert "nest too deep" in caught.value.diagnostic.message
    assert "recursion" not in caught.value.diagnostic.message
