"""A dext's provider is a proxy of the kernel's object: its name, class, location and path, and
property reads that cross to the kernel; ``message`` arguments cross as values or as proxies."""

from __future__ import annotations

import os
import select

from hostilekit import HostileInt
from iokit_sdk.values import OSNumber

from iokit_host.dext.remote import RemoteObjects
from iokit_host.registry import get_path

from .conftest import camera, dexts
from .remote_fixtures import (
    DIE,
    READ_KEY,
    READ_LATER,
    REMOTE,
    REPORT,
    message,
    notice_death,
    pid_of,
    relaunched,
    remote_driver,
)


def test_the_provider_is_a_proxy_of_the_kernels_object(dext_host):
    host = dext_host(REMOTE)
    driver, device = remote_driver(host), camera(host)
    seen = driver.get_property("Provider")
    assert seen["same"] is True  # get_provider() answers the provider start was given
    assert seen["name"] == device.get_name() and seen["usb"] is True
    assert seen["location"] == (device.get_location() or "")
    assert seen["path"] == get_path(host.registry, device, "IOService")
    assert seen["path"].startswith("IOService:/")
    assert seen["vendor"] == device.get_property("idVendor") == 1452
    assert seen["has"] is True
    assert seen["keys"] == sorted(device.copy_properties())[:5]
    assert seen["grand"] == device.get_provider().get_name()
    assert driver.get_property("ProbeProvider") == device.get_name()  # attached before probe


def test_property_reads_cross_to_the_kernel_and_see_its_changes(dext_host):
    host = dext_host(REMOTE)
    device = camera(host)
    device.set_property("LensState", "open")
    message(host, READ_KEY, "LensState")
    assert remote_driver(host).get_property("Read") == ["LensState", "open"]
    device.set_property("LensState", OSNumber(7, 16))  # libkern types survive the crossing
    message(host, READ_KEY, "LensState")
    read = remote_driver(host).get_property("Read")[1]
    assert read == 7 and isinstance(read, OSNumber) and read.bits == 16
    device.remove_property("LensState")
    message(host, READ_KEY, "LensState")
    assert remote_driver(host).get_property("Read") == ["LensState", "absent"]


def test_message_arguments_cross_as_values_and_services(dext_host):
    host = dext_host(REMOTE)
    assert message(host, REPORT, {"frames": [1, 2], "tag": b"\x00\x01"}) == 0
    assert remote_driver(host).get_property("Message") == [
        REPORT, "value", {"frames": [1, 2], "tag": b"\x00\x01"}]
    message(host, REPORT, camera(host))  # a kernel object: a proxy in the process
    assert remote_driver(host).get_property("Message") == [
        REPORT, "service", camera(host).get_name(), 1452]


def test_an_argument_that_cannot_cross_is_reported_and_the_driver_gets_none(dext_host):
    host = dext_host(REMOTE)
    message(host, REPORT, object())
    message(host, REPORT, object())
    assert remote_driver(host).get_property("Message") == [REPORT, "value", "none"]
    dropped = [d for d in host.diagnostics if d.reference == "dext-message-argument-dropped"]
    assert len(dropped) == 1 and "object" in dropped[0].message  # once per type


def test_an_int_of_the_senders_own_class_crosses_as_its_value_its_code_unrun(dext_host):
    """An in-process driver's message argument of an ``int`` subclass is a registry value:
    the dext gets the number, and the subclass's methods (the sender's code) never run in the
    kernel, which packed it for the channel with ``int()`` (here: SystemExit)."""
    host = dext_host(REMOTE)
    pid = pid_of(host)
    assert message(host, REPORT, HostileInt(5)) == 0
    assert remote_driver(host).get_property("Message") == [REPORT, "value", 5]
    assert message(host, REPORT, [HostileInt(6)]) == 0
    assert remote_driver(host).get_property("Message") == [REPORT, "value", [6]]
    assert pid_of(host) == pid and not host.diagnostics


def test_sigkill_during_a_message_relaunches_and_the_caller_gets_an_ioreturn(dext_host):
    host = dext_host(REMOTE)
    old = pid_of(host)
    assert message(host, DIE) == 0xE00002C7  # the process died answering: unsupported
    notice_death(host, old, kill=False)
    relaunched(host, old)


def test_sigkill_while_a_property_read_waits_for_the_kernel(dext_host):
    host = dext_host(REMOTE)
    old = pid_of(host)
    message(host, READ_LATER)  # a driver thread asks while the kernel is idle
    record, = dexts(host).servers.values()
    channel = record.process.channel
    assert select.select([channel.fileno()], [], [], 10.0)[0]  # the question is waiting
    notice_death(host, old)  # killed before the kernel answers; the answer goes nowhere
    relaunched(host, old)
    assert remote_driver(host).get_property("Provider")["vendor"] == 1452


def test_sigkill_right_after_a_read_in_start_fails_the_candidate_and_counts(dext_host):
    host = dext_host(REMOTE, mode="read-kill")
    assert "dext-client-crashed" in {d.reference for d in host.diagnostics}
    assert dexts(host).crashes.total.get("com.example.test.remote", 0) >= 1


def test_a_proxy_answers_from_its_copy_when_the_kernel_does_not():
    objects = RemoteObjects(lambda question: None, lambda proxy: None)
    proxy = objects.make({"kobj": 3, "chain": ["IOUSBHostDevice", "IOService"],
                          "name": "Cam", "location": "1", "path": "IOService:/Cam@1",
                          "props": {"idVendor": 1452}})
    assert proxy is not None and proxy.meta_cast("IOUSBHostDevice")
    assert proxy.get_property("idVendor") == 1452 and proxy.get_provider() is None
    assert proxy.get_path() == "IOService:/Cam@1" and proxy.get_path("IOPower") is None
    assert objects.make({"kobj": 3}) is proxy  # later crossings name it by number
    assert objects.make({"kobj": "3"}) is None and objects.make({"kobj": 0}) is None
    assert os.getpid()  # nothing crossed: no kernel here
