"""The IOKIT_* on/off switches read alike everywhere."""

from __future__ import annotations

import pytest

from iokit_host.host import IOKitHost
from iokit_host.settings import MAX_SECONDS, env_flag, env_seconds


@pytest.mark.parametrize(("value", "on"), [("", False), ("0", False), ("1", True),
                                          ("yes", True), ("false", False), ("No", False),
                                          (" off ", False), (" 0", False), ("on", True),
                                          ("TRUE", True)])
def test_a_switch_is_off_only_when_unset_empty_zero_or_a_word_for_off(
        monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    monkeypatch.setenv("IOKIT_STRICT", value)
    assert env_flag("IOKIT_STRICT") is on


def test_the_host_reads_iokit_strict_only_when_the_caller_did_not_decide(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOKIT_STRICT", raising=False)
    assert not env_flag("IOKIT_STRICT")
    assert IOKitHost().strict is False
    monkeypatch.setenv("IOKIT_STRICT", "1")
    assert IOKitHost().strict is True
    assert IOKitHost(strict=False).strict is False


def test_a_bad_driver_timeout_is_a_warning_on_the_host_not_a_crash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_DRIVER_TIMEOUT", "ten")
    with pytest.raises(ValueError, match="IOKIT_DRIVER_TIMEOUT='ten' is not a number"):
        env_seconds("IOKIT_DRIVER_TIMEOUT", 10.0)
    host = IOKitHost()
    assert [d.reference for d in host.diagnostics] == ["driver-timeout-invalid"]
    assert host.kernel.driver_calls.watchdog.limit_s == 10.0
    monkeypatch.setenv("IOKIT_DRIVER_TIMEOUT", " 2.5 ")
    assert env_seconds("IOKIT_DRIVER_TIMEOUT", 10.0) == 2.5


@pytest.mark.parametrize("value", ["inf", "1e999", "1e9", "1000001"])
def test_more_seconds_than_a_timer_holds_reads_as_the_most_it_may_wait(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # epoll waits at most 2**31 ms: a longer wait stopped the kernel at its first wait.
    monkeypatch.setenv("IOKIT_KERNEL_HELLO_TIMEOUT", value)
    assert env_seconds("IOKIT_KERNEL_HELLO_TIMEOUT", 10.0) == MAX_SECONDS
    monkeypatch.setenv("IOKIT_KERNEL_HELLO_TIMEOUT", "999999.5")
    assert env_seconds("IOKIT_KERNEL_HELLO_TIMEOUT", 10.0) == 999_999.5
