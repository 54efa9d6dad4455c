"""A dext's driver runs in its own process: calls cross, power and user clients too, and
the kernel survives it dying mid-call (what a crash then sets off: test_crash_policy)."""

from __future__ import annotations

import os

from iokit_sdk import keys

from .conftest import DEXT_ID, camera, camera_driver, dexts, pid_alive


def _codes(host: object) -> list[str]:
    return [d.reference for d in host.diagnostics]  # type: ignore[attr-defined]


def test_the_driver_runs_in_a_server_process_and_its_work_shows_in_the_registry(dext_host):
    host = dext_host()
    driver = camera_driver(host)
    row, = dexts(host).rows()
    assert (row.server, row.state, row.crashes) == (DEXT_ID, "running", 0)
    assert driver.get_property("DriverPid") == row.pid != os.getpid()
    # serviceAttach: the kernel's IOUserService is renamed to the user class.
    assert driver.iokit_class_name == "IOUserService"
    assert driver.get_name() == "CameraDriver"
    assert driver.get_property("IOUserClasses") == ["CameraDriver", "IOService", "OSObject"]
    assert driver.get_property("ProviderName") == "FaceTime HD Camera (Built-in)"
    nub, = driver.get_clients()
    assert nub.get_property("CameraNubKey") == "published by the dext"
    server = host.find(f"IOUserServer({DEXT_ID}-0x{driver.get_registry_entry_id():x})")
    assert server is not None and server.get_property(keys.USER_SERVER_NAME) == DEXT_ID
    assert host.find("IOUserResources") is not None


def test_host_plugins_see_the_calls_that_cross(dext_host):
    from iokit_sdk import hookimpl

    seen: list[str] = []

    class Tracer:
        @hookimpl(wrapper=True)
        def iokit_start(self, service, provider):
            seen.append(service.get_name())
            return (yield)

    host = dext_host(boot=False)
    host.kernel.plugin_manager.register(Tracer())
    host.boot()
    assert "CameraDriver" in seen


def test_a_bad_timeout_setting_is_reported_and_the_default_used(dext_host):
    host = dext_host(IOKIT_DEXT_CALL_TIMEOUT="soon")
    assert "dext-bad-timeout" in _codes(host)
    assert camera_driver(host) is not None


def test_set_power_state_crosses_with_the_fixed_three_state_table(dext_host):
    host = dext_host()
    driver = camera_driver(host)
    assert driver.in_plane("IOPower")
    host.sleep()
    assert driver.get_property("PowerStateSeen") == 0  # set in the driver process
    host.wake()
    assert driver.get_property("PowerStateSeen") == 2  # kIOPMPowerOn, the table's top


def test_sigkill_during_set_power_state_lets_the_sleep_finish_and_relaunches(dext_host):
    host = dext_host(mode="power-kill")
    old = dexts(host).rows()[0].pid
    assert host.sleep().result == "asleep"
    host.kernel.run_until_quiet()
    assert "killed by SIGKILL during set_power_state" in next(
        d.message for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert host.wake().result == "awake"
    row, = dexts(host).rows()
    assert row.crashes == 1 and row.pid not in (None, old)


def _open(host):
    from iokit_sdk.userclient import OwningTask

    from iokit_host.userclient.connections import UserClients

    clients = UserClients(host.kernel)
    connection = clients.open(camera_driver(host), OwningTask(4242, 501, 20, "tester"), 0)
    assert not isinstance(connection, int), hex(connection)
    return clients, connection


def test_a_programs_calls_reach_the_dexts_user_client_in_its_process(dext_host):
    from iokit_host.userclient.calls import CallRequest

    host = dext_host()
    clients, connection = _open(host)
    assert connection.client.iokit_class_name == "IOUserUserClient"
    result = clients.call(connection, CallRequest(0, (21,), b"hi", 2, 16))
    assert (result.ret, result.structure) == (0, b"dext:hi")
    assert result.scalars == (dexts(host).rows()[0].pid, 42)
    assert camera_driver(host).get_property("LastSelector") == 0  # the driver object itself
    assert clients.close(connection) == 0
    assert connection.client.is_inactive()


def test_sigkill_during_a_user_client_call_answers_not_responding_and_relaunches(dext_host):
    from iokit_sdk.returns import IOReturn

    from iokit_host.userclient.calls import CallRequest

    host = dext_host()
    old = dexts(host).rows()[0].pid
    clients, connection = _open(host)
    assert clients.call(connection, CallRequest(1)).ret == IOReturn.NOT_RESPONDING
    host.kernel.run_until_quiet()
    row, = dexts(host).rows()
    assert row.crashes == 1 and row.pid not in (None, old)
    assert camera_driver(host).get_property("DriverPid") == row.pid


def test_an_iouserclass_the_package_lacks_is_refused_not_counted_as_a_crash(
        dext_host, tmp_path):
    import shutil

    from .conftest import DEXT

    kext = tmp_path / DEXT.name
    shutil.copytree(DEXT, kext)
    plist = kext / "Info.plist"
    plist.write_text(plist.read_text().replace("<string>CameraDriver</string>",
                                               "<string>NoSuchDriver</string>"))
    host = dext_host(kext)
    fault = next(d for d in host.diagnostics if d.reference == "driver-probe-raised")
    assert "class NoSuchDriver is not defined in the kext's package" in fault.message
    assert camera_driver(host) is None
    row, = dexts(host).rows()
    # A refusal, not a crash; the server, hosting nothing, exited.
    assert (row.state, row.crashes, row.launches) == ("idle", 0, 1)


def test_a_server_whose_last_service_goes_exits_and_the_next_match_launches_it(dext_host):

    host = dext_host()
    old = dexts(host).rows()[0].pid
    host.unplug(camera(host))
    host.kernel.run_until_quiet()
    row, = dexts(host).rows()
    assert (row.state, row.pid, row.crashes) == ("idle", None, 0)
    assert not pid_alive(old)
    assert not any(s.meta_cast("IOUserServer") for s in host.kernel.services()
                   if not s.is_inactive())
