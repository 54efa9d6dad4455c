"""Matching and interest notifications a dext installs are delivered to its process across the
channel; the nubs it publishes are matched in the kernel; its death removes its notifications."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from hostkit import kext, personality
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk import IOService
from iokit_sdk.messages import kIOMessageServiceIsTerminated
from iokit_sdk.service import ServiceState
from kernelkit import KernelFactory

from .conftest import camera, dexts
from .remote_fixtures import (
    REMOTE,
    REMOTE_ID,
    REPORT,
    message,
    pid_of,
    relaunched,
    remote_driver,
    settle,
)


def _publish(host, name: str, tag: int) -> IOService:
    nub = IOService({"Tag": tag}, name=name)
    assert nub.attach(camera(host))
    nub.register_service()
    host.kernel.run_until_quiet()
    return nub


def _seen(host) -> list[str]:
    settle(host)  # the process handled every note sent before
    return list(remote_driver(host).get_property("Seen") or [])


def test_existing_services_are_delivered_at_install(dext_host):
    host = dext_host(REMOTE)
    settle(host)  # services published after the install arrived since
    existing = remote_driver(host).get_property("Existing")
    assert [camera(host).get_name(), 1452] in existing
    devices = [s for s in host.kernel.services() if s.meta_cast("IOUSBHostDevice")]
    assert sorted(name for name, _ in existing) == sorted(d.get_name() for d in devices)


def test_a_nub_the_dext_publishes_is_matched_in_the_kernel_and_notified(dext_host):
    host = dext_host(REMOTE, boot=False)
    matched: list[str] = []
    host.kernel.notifications.install("matched", {"IONameMatch": "RemoteNub"},
                                      lambda s: matched.append(s.get_name()))
    host.boot()
    driver = remote_driver(host)
    nub, = driver.get_clients()
    assert nub.get_property("RemoteNubKey") == "published by the dext"
    assert nub.get_state() & ServiceState.MATCHED and matched == ["RemoteNub"]
    assert driver.get_property("NubProvider") is True  # get_provider() in the process
    assert "matched:RemoteNub:None" in _seen(host)  # the dext's own notification saw it


def test_matched_and_terminated_notifications_cross_with_the_service(dext_host):
    host = dext_host(REMOTE)
    watched = _publish(host, "RemoteWatched", 5)
    _publish(host, "Unwatched", 6)
    assert _seen(host)[-1] == "matched:RemoteWatched:5"  # read in the kernel by the handler
    watched.terminate()
    host.kernel.run_until_quiet()
    seen = _seen(host)
    # Phase 1's terminated notification, then phase 2's message to the interested.
    said = f"said:RemoteWatched:{kIOMessageServiceIsTerminated:#x}"
    assert seen[-2:] == ["terminated:RemoteWatched", said]


def test_a_removed_notification_delivers_nothing_more(dext_host):
    host = dext_host(REMOTE, mode="remove-after-one")
    held = dexts(host).upcalls.notifiers.held(next(iter(dexts(host).servers)))
    _publish(host, "RemoteWatched", 1).terminate()
    host.kernel.run_until_quiet()
    _seen(host)
    assert dexts(host).upcalls.notifiers.held(next(iter(dexts(host).servers))) == held - 1
    _publish(host, "RemoteWatched", 2)
    assert "matched:RemoteWatched:2" not in _seen(host)


def test_sigkill_in_a_notification_handler_relaunches_and_removes_its_notifiers(dext_host):
    host = dext_host(REMOTE)
    old = pid_of(host)
    doom = _publish(host, "RemoteDoom", 1)  # the handler kills its process, after the kernel
    doom.terminate()  # sent the note (gone before the relaunch, which would be told of it)
    host.kernel.run_until_quiet()
    # The kernel's watch serves what the process asked before, then sees it die.
    assert any(dexts(host).poll(10.0) == [REMOTE_ID] for _ in range(20))
    host.kernel.run_until_quiet()
    new = relaunched(host, old)
    # The dead process's notifiers went; the new one's are its own four (three matching,
    # interest in its provider).
    assert new and dexts(host).upcalls.notifiers.held(REMOTE_ID) == 4
    _publish(host, "RemoteWatched", 9)
    assert _seen(host)[-1] == "matched:RemoteWatched:9"


_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6)
                       | st.binary(max_size=4),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


def test_any_registry_question_gets_an_answer_or_our_diagnostic(dext_host):
    host = dext_host(REMOTE)
    manager = dexts(host)
    record, = manager.servers.values()

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.fixed_dictionaries({"op": st.just("kcall"), "kind": st.just("registry")},
                                 optional={
        "method": st.sampled_from(["get_property", "copy_properties", "get_provider",
                                   "add_notification", "remove_notification", "add_interest",
                                   "message_clients", "x"]) | _VALUES,
        "kobj": st.integers(-2, 4) | _VALUES, "key": _VALUES, "id": _VALUES,
        "target": st.fixed_dictionaries({}, optional={"obj": st.integers(-1, 3) | _VALUES,
                                                      "kobj": st.integers(-1, 3)}) | _VALUES,
        "obj": st.integers(-1, 3) | _VALUES, "message": st.integers(-1, 1 << 33) | _VALUES,
        "argument": st.fixed_dictionaries({}, optional={"value": _VALUES,
                                                        "kobj": _VALUES}) | _VALUES,
        "type": st.sampled_from(["publish", "matched", "nope"]) | _VALUES,
        "matching": _VALUES, "priority": _VALUES, "seq": st.integers(0, 5)}))
    def ask(question):
        before = len(host.diagnostics)
        manager.upcalls.event(record, question)
        assert {d.reference for d in host.diagnostics[before:]} <= {"dext-bad-request"}

    ask()
    manager.upcalls.notifiers.gone(record.name)
    message(host, REPORT)  # the process read every answer and is well
    assert remote_driver(host) is not None and record.process.alive


BROADCAST, INTEREST_DIE, ARRIVED = 0x1004, 0x1005, 0x1006


def test_interest_in_the_provider_gets_its_messages_with_their_arguments(dext_host):
    host = dext_host(REMOTE)
    device = camera(host)
    device.message_clients(0x2000, {"lens": [1, 2]})  # messageClients in the kernel
    device.message_clients(0x2001, device)
    driver = remote_driver(host)
    name = device.get_name()
    # As a client the driver's message() was called, with the same argument (at once).
    assert driver.get_property("Message") == [0x2001, "service", name, 1452]
    settle(host)  # and the interest handler was told, one way
    assert driver.get_property("ProviderSaid") == [[0x2000, name, {"lens": [1, 2]}],
                                                   [0x2001, name, name]]


def test_interest_in_a_notified_service_hears_it_terminate(dext_host):
    host = dext_host(REMOTE)
    watched = _publish(host, "RemoteWatched", 3)
    settle(host)  # the handler registered its interest
    watched.terminate()
    host.kernel.run_until_quiet()
    assert f"said:RemoteWatched:{kIOMessageServiceIsTerminated:#x}" in _seen(host)


def test_message_clients_from_a_dext_reaches_the_kernels_interested(dext_host):
    host = dext_host(REMOTE)
    driver = remote_driver(host)
    heard: list[tuple[int, str, object]] = []
    host.kernel.register_interest(driver, lambda t, s, a: heard.append((t, s.get_name(), a)))
    message(host, BROADCAST, 0x3000)
    assert heard == [(0x3000, "RemoteDriver", {"from": "dext"})]


def test_sigkill_in_an_interest_handler_relaunches(dext_host):
    host = dext_host(REMOTE)
    old = pid_of(host)
    camera(host).message_clients(INTEREST_DIE)
    assert any(dexts(host).poll(10.0) == [REMOTE_ID] for _ in range(20))
    host.kernel.run_until_quiet()
    relaunched(host, old)
    assert dexts(host).upcalls.notifiers.held(REMOTE_ID) == 4  # the new process's own
    assert host.kernel.interest.count(camera(host)) == 1


class NubDriver(IOService):
    """An in-kernel driver for the nub the dext publishes."""

    def start(self, provider: IOService) -> bool:
        self.set_property("NubKeySeen", provider.get_property("RemoteNubKey"))
        return True


def test_an_in_kernel_driver_matches_and_starts_on_the_dexts_nub(dext_host):
    bundle = kext("com.test.nubdriver", {"n": personality(
        "NubDriver", provider="IOService", IONameMatch="RemoteNub")})
    host = dext_host(REMOTE, bundle, boot=False)
    host.classes.register_kext_classes("com.test.nubdriver", [NubDriver])
    host.boot()
    nub, = remote_driver(host).get_clients()
    driver, = nub.get_clients()
    assert isinstance(driver, NubDriver)
    assert driver.get_property("NubKeySeen") == "published by the dext"


def test_what_a_handler_changes_reaches_the_kernel_with_no_call_into_the_process(dext_host):
    host = dext_host(REMOTE)
    settle(host)
    _publish(host, "RemoteWatched", 4)
    driver = remote_driver(host)
    for _ in range(20):  # the kernel idles: its watch answers the handler's questions,
        if "matched:RemoteWatched:4" in (driver.get_property("Seen") or []):
            break  # then applies what it changed
        dexts(host).poll(10.0)
    assert "matched:RemoteWatched:4" in driver.get_property("Seen")


def test_any_changed_message_is_applied_or_reported_never_raised(dext_host):
    host = dext_host(REMOTE)
    manager = dexts(host)
    record, = manager.servers.values()

    @settings(max_examples=100, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.fixed_dictionaries({"op": st.just("changed")}, optional={
        "others": st.lists(st.tuples(st.integers(0, 3), _VALUES, _VALUES).map(list),
                           max_size=2) | _VALUES,
        "published": st.lists(st.fixed_dictionaries({}, optional={
            "provider": st.integers(0, 3) | _VALUES, "chain": _VALUES, "name": _VALUES,
            "props": _VALUES}), max_size=2) | _VALUES,
        "requests": _VALUES}))
    def changed(message):
        before = len(host.diagnostics)
        manager._event(record, message)
        assert {d.reference for d in host.diagnostics[before:]} <= {"dext-bad-property"}

    changed()


def _remote_kernel(tmp_path) -> KernelFactory:
    """Kernels with the remote test dext installed (as a distribution folder)."""
    shutil.copytree(REMOTE, tmp_path / REMOTE.name)
    plist = tmp_path / REMOTE.name / "Info.plist"  # outbid the installed camera sample dext
    plist.write_text(plist.read_text(encoding="utf-8").replace(
        "<key>idProduct</key>", "<key>IOProbeScore</key><integer>1000</integer>"
        "<key>idProduct</key>", 1), encoding="utf-8")
    info = tmp_path / "iokit_test_remote-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iokit-test-remote\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[iokit.kexts]\n{REMOTE_ID} = iokit_test_remote\n", encoding="utf-8")
    return KernelFactory(tmp_path)


def _app(kernel, code: str) -> str:
    done = subprocess.run([sys.executable, "-c", "from iokit_sdk.iokitlib import *\n" + code],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, IOKIT_KERNEL=kernel.path))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_running_kernel_serves_notification_handlers_while_it_idles(tmp_path):
    """On ``iokit kernel``, the dext's handlers for the USB devices (delivered after its
    start, and for those published later) ask the kernel questions while it idles; a program
    then reads, in the registry, what each handler recorded."""
    factory = _remote_kernel(tmp_path)
    try:
        kernel = factory.start()
        app = ("s = IOServiceGetMatchingService(0, IOServiceNameMatching('RemoteDriver'))\n"
               "for _ in range(2000):  # each request is a turn of the kernel's loop\n"
               "    seen = IORegistryEntryCreateCFProperty(s, 'Existing', None, 0) or []\n"
               "    if len(seen) == 3:\n"
               "        break\n"
               "print(sorted(name for name, _ in seen))\n")
        out = _app(kernel, app)
        assert "FaceTime HD Camera (Built-in)" in out and "HubDevice" in out
        assert "dext-client-crashed" not in kernel.stderr()
    finally:
        factory.close()


def test_a_programs_interest_hears_what_a_dext_tells_its_clients(tmp_path):
    """A device plugged on a running kernel (``iokit event``) reaches the dext's matching
    notification; its handler's ``message_clients`` reaches a program's interest
    notification (``IOServiceAddInterestNotification``) on the dext's service."""
    factory = _remote_kernel(tmp_path)
    try:
        kernel = factory.start()
        scenario = tmp_path / "plug.toml"
        scenario.write_text('[[event]]\naction = "plug"\nparent = "AppleACPIPlatformExpert"\n'
                            '[event.nub]\nclass = "IOService"\nname = "RemoteWatched"\n',
                            encoding="utf-8")
        app = ("import subprocess, sys\n"
               "s = IOServiceGetMatchingService(0, IOServiceNameMatching('RemoteDriver'))\n"
               "port = IONotificationPortCreate(0)\n"
               "heard = []\n"
               "IOServiceAddInterestNotification(port, s, kIOGeneralInterest,\n"
               "    lambda refcon, service, message, arg: heard.append((message, arg)))\n"
               f"subprocess.run([sys.executable, '-m', 'iokit_host', 'event', {str(scenario)!r},\n"
               "                '--kernel', IOKIT_KERNEL_PATH], check=True,\n"
               "               capture_output=True)\n"
               "while not heard and IONotificationPortDispatch(port, 30.0):\n"
               "    pass\n"
               "print(hex(heard[0][0]), heard[0][1])\n")
        out = _app(kernel, app.replace("IOKIT_KERNEL_PATH", repr(kernel.path)))
        assert out.split() == [hex(ARRIVED), "RemoteWatched"]
    finally:
        factory.close()


def test_a_process_that_stops_reading_is_killed_not_waited_for(dext_host):
    """A handler that never returns: the kernel's notifications fill the socket, the send
    waits at most the call deadline, the process is killed and relaunched."""
    host = dext_host(REMOTE, IOKIT_DEXT_CALL_TIMEOUT="1")
    old = pid_of(host)
    settle(host)  # no handler waits on the kernel: the next one runs at once
    deaf = _publish(host, "RemoteDeaf", 1)  # its handler pauses for ever
    deaf.terminate()
    host.kernel.run_until_quiet()
    for tag in range(64):  # each note carries the nub's 16 KiB: the buffer fills
        nub = IOService({"Tag": tag, "Blob": bytes(16384)}, name="RemoteWatched")
        assert nub.attach(camera(host))
        nub.register_service()
        host.kernel.run_until_quiet()
        if any(d.reference == "dext-notification-unread" for d in host.diagnostics):
            break
    assert any(d.reference == "dext-notification-unread" for d in host.diagnostics)
    assert any(dexts(host).poll(10.0) == [REMOTE_ID] for _ in range(20))
    host.kernel.run_until_quiet()
    relaunched(host, old)
