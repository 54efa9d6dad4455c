"""Where the explorer listens: addresses parsed, 127.0.0.1 by default, a taken port refused."""

from __future__ import annotations

import socket

import pytest

from iokit_host.explorer.serve import Address, AddressError, bind, is_loopback, parse_address


@pytest.mark.parametrize(("text", "address"), [
    ("8080", Address("127.0.0.1", 8080)),
    ("127.0.0.1:0", Address("127.0.0.1", 0)),
    ("localhost:9", Address("localhost", 9)),
    ("[::1]:8080", Address("::1", 8080)),
])
def test_an_address_is_parsed(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "host:", ":80", "80000", "x:y", "[::1]8080", "[::1",
                                  "127.0.0.1:-1"])
def test_a_bad_address_is_a_diagnostic(text: str) -> None:
    with pytest.raises(AddressError) as raised:
        parse_address(text)
    assert raised.value.ref == "explorer-bad-address"
    assert raised.value.diagnostic.key == "--http"


def test_only_loopback_addresses_count_as_local() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_a_taken_port_is_refused_naming_the_address() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(AddressError) as raised:
            bind(Address("127.0.0.1", port))
        assert raised.value.ref == "explorer-address-unusable"
        assert f"127.0.0.1:{port}" in str(raised.value)
    finally:
        taken.close()


@pytest.mark.parametrize("host", ["h" * 300, "a..b", "x" * 64 + ".example"])
def test_a_host_name_dns_cannot_carry_is_unusable_not_a_crash(host: str) -> None:
    # The idna codec's UnicodeError (label too long or empty) was an internal error.
    with pytest.raises(AddressError) as raised:
        bind(parse_address(f"{host}:80"))
    assert raised.value.ref == "explorer-address-unusable"
