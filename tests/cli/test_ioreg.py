"""``iokit ioreg``: flags parse as ioreg's and the booted registry prints."""

from __future__ import annotations

import argparse
import json
import plistlib

import pytest

from iokit_host.cli import ioreg as ioreg_cli
from iokit_host.cli import main
from iokit_host.errors import IOKitError
from iokit_host.host import IOKitHost


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ioreg_cli.configure(parser)
    return parser.parse_args(list(argv))


def test_flags_become_options() -> None:
    options = ioreg_cli.options_from_args(
        _parse("-lxi", "-w0", "-d3", "-p", "IODeviceTree", "-c", "IOPCIDevice", "-n", "ARPT@0",
               "-k", "vendor-id", "-rt", "-S"), is_tty=True)
    assert (options.list_properties, options.hex_numbers, options.inheritance) == (True,) * 3
    assert (options.width, options.depth, options.plane) == (0, 3, "IODeviceTree")
    assert (options.class_name, options.name, options.key) == ("IOPCIDevice", "ARPT@0", "vendor-id")
    assert options.root and options.tree and not options.state


def test_width_defaults_to_unlimited_off_a_terminal() -> None:
    assert ioreg_cli.options_from_args(_parse(), is_tty=False).width == 0
    assert ioreg_cli.options_from_args(_parse(), is_tty=True).width > 0


def test_archive_and_json_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse("-a", "--json")


@pytest.fixture
def bootable() -> None:
    try:
        IOKitHost(None).boot()
    except (ImportError, IOKitError) as error:
        pytest.skip(f"the default machine does not boot yet ({error}); lead: remove this skip")


@pytest.mark.usefixtures("bootable")
def test_ioreg_prints_the_default_machine(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["ioreg", "-w0"]) == 0
    text = capsysbinary.readouterr().out.decode()
    assert text.startswith("+-o Root  <class IORegistryEntry, id 0x100000100, retain ")
    assert "\n  +-o " in text
    assert main(["ioreg", "-a", "-d2"]) == 0
    root = plistlib.loads(capsysbinary.readouterr().out)
    assert root["IORegistryEntryName"] == "Root" and root["IORegistryEntryChildren"]
    assert main(["ioreg", "--json", "-l"]) == 0
    assert json.loads(capsysbinary.readouterr().out)["name"] == "Root"


@pytest.mark.usefixtures("bootable")
def test_unknown_plane_fails_with_the_known_planes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ioreg", "-p", "IOBogus"]) != 0
    err = capsys.readouterr().err
    assert "ioreg-unknown-plane" in err and "IOService" in err
