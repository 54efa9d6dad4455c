"""A dext's own power requests cross to the kernel's power manager and act as an in-process
driver's do; a process killed mid power change leaves the kernel's power management going."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk import IOReturn
from iokit_sdk.keys import POWER_PLANE
from iokit_sdk.messages import kIOMessageCanSystemSleep
from iokit_sdk.userclient import OwningTask

from iokit_host.dext.driverside import POWER_METHODS
from iokit_host.dext.records import ServerRecord
from iokit_host.host import IOKitHost
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import Connection, UserClients

from .conftest import DEXT_ID, camera, camera_driver, dexts

TASK = OwningTask(4242, 501, 20, "camera-app")
CHANGE_TO, CHANGE_TO_PRIV, MAKE_USABLE, TICKLE, GET_STATE = range(5)


def _open(host: IOKitHost) -> tuple[UserClients, Connection]:
    clients = UserClients(host.kernel)
    connection = clients.open(camera_driver(host), TASK, 0)
    assert isinstance(connection, Connection)
    return clients, connection


def _request(host: IOKitHost, which: int, value: int = 0) -> int:
    """The driver process makes a power request (from a user-client call) and the kernel
    runs what it started; what the request returned there."""
    clients, connection = _open(host)
    done = clients.call(connection, CallRequest(6, (which, value), scalar_output_count=1))
    assert done.ret == IOReturn.SUCCESS
    clients.close(connection)
    host.kernel.run_until_quiet()
    return done.scalars[0]


def _pm(service: Any) -> dict[str, Any]:
    return dict(service.get_property("IOPowerManagement") or {})


def test_a_driver_registers_its_own_table_and_joins_under_its_provider(dext_host):
    host = dext_host(mode="own-power")
    driver = camera_driver(host)
    assert driver.get_property("RegisterResult") == IOReturn.SUCCESS
    assert _pm(driver)["MaxPowerState"] == 3  # its four states, not DriverKit's three
    assert _pm(driver)["CurrentPowerState"] == 3
    assert driver.get_property("PowerStateSeen") == 3  # set_power_state crossed back
    # joinPMtree on the provider stub crossed: its power parent is the camera's nearest
    # power-managed provider, as for an in-process driver.
    connection = driver.get_parent_entry(POWER_PLANE)
    parent = connection.get_parent_entry(POWER_PLANE) if connection is not None else None
    providers, above = [], camera(host)
    while above is not None:
        providers.append(above)
        above = above.get_provider()
    assert parent in providers and _pm(parent)
    assert _request(host, CHANGE_TO, 1) == IOReturn.SUCCESS
    assert (_pm(driver)["CurrentPowerState"], driver.get_property("PowerStateSeen")) == (1, 1)
    assert _request(host, GET_STATE) == 1


def test_requests_on_the_fixed_table_act_as_in_process(dext_host):
    host = dext_host()
    driver = camera_driver(host)
    assert _request(host, GET_STATE) == 2
    # The kernel's own request (the device's, DriverKit's top) outranks the driver's.
    assert _request(host, CHANGE_TO, 0) == IOReturn.SUCCESS
    assert _pm(driver)["CurrentPowerState"] == 2
    assert _request(host, CHANGE_TO_PRIV, 1) == IOReturn.SUCCESS
    assert (_pm(driver)["CurrentPowerState"], driver.get_property("PowerStateSeen")) == (1, 1)
    assert _request(host, MAKE_USABLE) == IOReturn.SUCCESS
    assert _pm(driver)["CurrentPowerState"] == 2
    assert _request(host, CHANGE_TO, 99) == IOReturn.SUCCESS  # clamped to the table
    assert _request(host, TICKLE, 2) in (0, 1)  # a bool, as activityTickle's


def test_a_request_from_a_driver_thread_while_the_kernel_idles_is_served(dext_host):
    host = dext_host()
    driver = camera_driver(host)
    clients, connection = _open(host)
    assert clients.call(connection, CallRequest(10, (CHANGE_TO_PRIV, 1))).ret == 0
    # The kernel is idle when the request comes: its watch serves it, and the change it
    # starts calls the driver's set_power_state while the asking thread waits.
    while _pm(driver)["CurrentPowerState"] != 1:
        assert dexts(host).poll(10.0) == [], "the server died instead of asking"
    assert driver.get_property("PowerStateSeen") == 1
    assert _request(host, GET_STATE) == 1


def test_an_acknowledgement_sent_later_from_the_process_completes_the_change(dext_host):
    host = dext_host(mode="power-ack-later")
    driver = camera_driver(host)
    _request(host, CHANGE_TO_PRIV, 1)
    assert driver.get_property("AckPending") == 1
    assert _pm(driver)["CurrentPowerState"] == 2  # still waiting for the acknowledgement
    clients, connection = _open(host)
    acked = clients.call(connection, CallRequest(7, scalar_output_count=1))
    assert acked.scalars == (IOReturn.SUCCESS,)
    host.kernel.run_until_quiet()
    assert _pm(driver)["CurrentPowerState"] == 1
    assert not driver.has_property("IOPMTardyAckSetPowerState")


def test_an_acknowledgement_never_sent_is_tardy_and_the_change_goes_on(dext_host):
    host = dext_host(mode="power-ack-later")
    driver = camera_driver(host)
    _request(host, CHANGE_TO_PRIV, 1)
    host.power.run_until_idle()  # drives the host clock past the 10 s minimum
    assert driver.get_property("IOPMTardyAckSetPowerState") is True
    assert _pm(driver)["CurrentPowerState"] == 1


def test_a_driver_overriding_the_power_notifications_is_told_across(dext_host):
    host = dext_host(mode="informed")
    driver = camera_driver(host)
    _request(host, CHANGE_TO_PRIV, 1)
    assert driver.get_property("WillChangeTo") == [1, "CameraDriver"]
    assert driver.get_property("DidChangeTo") == 1
    assert _pm(driver)["CurrentPowerState"] == 1


def test_a_notification_never_acknowledged_is_tardy_and_the_change_goes_on(dext_host):
    host = dext_host(mode="informed-late")
    driver = camera_driver(host)
    _request(host, CHANGE_TO_PRIV, 1)
    host.power.run_until_idle()
    assert driver.get_property("IOPMTardyAckPowerStateChange") is True
    assert (_pm(driver)["CurrentPowerState"], driver.get_property("DidChangeTo")) == (1, 1)


def test_a_driver_without_them_is_not_told(dext_host):
    host = dext_host()
    _request(host, CHANGE_TO_PRIV, 1)
    assert not camera_driver(host).has_property("WillChangeTo")
    assert type(camera_driver(host)).__name__ == "IOUserService"


def test_a_dext_registered_for_sleep_and_wake_vetoes_idle_sleep(dext_host):
    host = dext_host(mode="sleep-veto")
    assert host.power.idle_sleep().result == "vetoed"
    assert camera_driver(host).get_property("PowerQuestion") == kIOMessageCanSystemSleep


def test_the_time_a_dext_asks_for_to_answer_crosses_back_and_a_late_answer_allows(
        dext_host):
    host = dext_host(mode="sleep-slow")
    before = host.kernel.clock.now_ns()
    assert host.power.sleep().result == "asleep"
    # It asked for 3 s (return_value) and never answered: the kernel waited that long.
    assert host.kernel.clock.now_ns() - before >= 3_000_000_000
    assert host.power.wake().result == "awake"


def test_sigkill_mid_power_change_is_a_crash_and_the_device_is_driven_again(dext_host):
    host = dext_host(mode="power-kill")
    old = dexts(host).rows()[0].pid
    _request(host, CHANGE_TO_PRIV, 0)  # set_power_state(0) kills the process
    host.power.run_until_idle()
    row = dexts(host).rows()[0]
    assert (row.state, row.crashes) == ("running", 1) and row.pid != old
    driver = camera_driver(host)
    assert driver.get_property("DriverPid") == row.pid
    assert _pm(driver)["CurrentPowerState"] == 2  # the relaunched server's fixed table
    codes = [d.reference for d in host.diagnostics]
    assert "dext-client-crashed" in codes and "power-stalled" not in codes


# -- what a process may ask -------------------------------------------------------------------
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=3),
    st.fixed_dictionaries({"obj": st.one_of(st.integers(-3, 40), st.text(max_size=2))}),
    st.just({"provider": True}),
    st.fixed_dictionaries({"states": st.lists(st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["version", "capability_flags",
                                                    "output_power_character", "bogus"]),
                                   st.integers(-5, 2**40), max_size=3)), max_size=4)}))
_MESSAGES = st.fixed_dictionaries(
    {"op": st.sampled_from(["kcall", "async", "other"]),
     "kind": st.sampled_from(["power", "registry"]),
     "method": st.one_of(st.sampled_from(sorted(POWER_METHODS)), st.text(max_size=8)),
     "args": st.one_of(st.lists(_VALUES, max_size=5), st.text(max_size=3)),
     "seq": st.integers(0, 5)})


def test_whatever_a_process_asks_is_served_or_refused_with_a_diagnostic(dext_host):
    host = dext_host()
    real = dexts(host).servers[DEXT_ID]
    # A record without a process: the answers go nowhere, the objects are the real ones.
    record = ServerRecord(real.name, real.bundle_id, None, (), proxies=real.proxies)
    upcalls = dexts(host).upcalls
    allowed = ("dext-bad-request", "dext-bad-async-result", "power-")

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_MESSAGES)
    def serve(message: dict[str, Any]) -> None:
        before = len(host.diagnostics)
        upcalls.event(record, message)
        host.kernel.run_until_quiet()
        assert all(d.reference.startswith(allowed) for d in host.diagnostics[before:])

    serve()
    assert dexts(host).rows()[0].state == "running"
