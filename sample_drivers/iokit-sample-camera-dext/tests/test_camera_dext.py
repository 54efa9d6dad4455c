"""SampleCameraDext: a dext in its own process, its user client, and a relaunch after a kill."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from iokit_sdk import IOReturn
from iokit_sdk.userclient import OwningTask

from iokit_host.dext.manager import manager_for
from iokit_host.testing import assert_bound
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import UserClients

# The package folder itself: the same test runs installed or from a checkout.
KEXT = Path(__file__).resolve().parents[1] / "iokit_sample_camera_dext"
CAMERA = "FaceTime HD Camera (Built-in)"


def test_drives_the_camera_from_its_own_process(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    driver = assert_bound(host, "SampleCameraDext", nub=CAMERA)
    (row,) = manager_for(host.kernel).rows()
    assert driver.get_property("DriverProcess") == row.pid != os.getpid()
    assert driver.get_name() == "SampleCameraDext"  # the IOUserService, renamed
    manager_for(host.kernel).shutdown()


def test_its_user_client_captures_and_sets_the_exposure(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    driver = assert_bound(host, "SampleCameraDext", nub=CAMERA)
    clients = UserClients(host.kernel)
    connection = clients.open(driver, OwningTask(4242, 501, 20, "camera-app"), 0)
    assert not isinstance(connection, int)
    assert clients.call(connection, CallRequest(0, scalar_output_count=1)).scalars == (0,)
    assert clients.call(connection, CallRequest(3, scalar_output_count=1)).scalars == (1,)
    assert clients.call(connection, CallRequest(3, scalar_output_count=1)).scalars == (2,)
    assert clients.call(connection, CallRequest(0, scalar_output_count=1)).scalars == (2,)
    assert clients.call(connection, CallRequest(1, (250,))).ret == IOReturn.SUCCESS
    assert driver.get_property("Exposure") == 250
    assert clients.call(connection, CallRequest(1, (0,))).ret == IOReturn.BAD_ARGUMENT
    # A watch is an async call: a plain call to it is refused by the dext.
    assert clients.call(connection, CallRequest(2)).ret == IOReturn.BAD_ARGUMENT
    clients.close(connection)
    manager_for(host.kernel).shutdown()


def test_it_registers_its_own_power_table_and_captures_are_activity(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    driver = assert_bound(host, "SampleCameraDext", nub=CAMERA)
    pm = driver.get_property("IOPowerManagement")
    assert (pm["MaxPowerState"], pm["CurrentPowerState"]) == (1, 1)  # its two states
    assert driver.get_property("CameraPowerState") == 1
    host.power.advance(31_000)  # the idle timer: no capture for 30 s steps it down
    assert driver.get_property("CameraPowerState") == 0
    clients = UserClients(host.kernel)
    connection = clients.open(driver, OwningTask(4242, 501, 20, "camera-app"), 0)
    assert not isinstance(connection, int)
    clients.call(connection, CallRequest(3, scalar_output_count=1))  # a capture tickles
    host.kernel.run_until_quiet()
    assert driver.get_property("CameraPowerState") == 1
    clients.close(connection)
    manager_for(host.kernel).shutdown()


def test_a_killed_server_is_relaunched_and_drives_the_camera_again(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    dexts = manager_for(host.kernel)
    old = dexts.rows()[0].pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    assert dexts.poll(10.0) == ["com.example.driver.CameraDext"]
    host.kernel.run_until_quiet()
    driver = assert_bound(host, "SampleCameraDext", nub=CAMERA)
    assert driver.get_property("DriverProcess") == dexts.rows()[0].pid != old
    dexts.shutdown()
