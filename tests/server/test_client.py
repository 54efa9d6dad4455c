"""Tools reading a running kernel (``--kernel``, ``IOKIT_KERNEL``) print what they print after a
boot of their own; ``iokit event`` changes the running kernel, and ``ioreg --kernel`` shows it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.wirecodec import packb
from kernelkit import KernelFactory, KernelProcess, iokit, kernel_env

from iokit_host.errors import Diagnostic
from iokit_host.scenario import events_from_tables
from iokit_host.server.client import _wire_tables


@pytest.mark.parametrize("flags", [["-l"], ["-a"], ["--json"], ["-l", "-p", "IODeviceTree"],
                                   ["-r", "-c", "IOPCIDevice", "-t", "-x"], ["-i", "-w", "80"],
                                   ["-r", "-n", "TestUCDriver", "-l"]])
def test_ioreg_of_a_running_kernel_prints_what_a_boot_prints(kernel: KernelProcess,
                                                             kext_dist: Path,
                                                             flags: list[str]) -> None:
    env = kernel_env(kext_dist)
    booted = iokit("ioreg", *flags, env=env)
    served = iokit("ioreg", *flags, "--kernel", kernel.path, env=env)
    assert served.returncode == 0, served.stderr
    assert _without_pids(served.stdout) == _without_pids(booted.stdout)


def _without_pids(text: str) -> str:
    """The output with driver-process ids blanked: an installed dext (the camera sample) runs
    in a process of its own in each boot, and only its pid may differ."""
    return re.sub(r'("DriverProcess"\s*[=:]\s*|<key>DriverProcess</key>\s*<integer>)\d+',
                  r"\1PID", text)


def test_iokit_kernel_in_the_environment_is_read_too(kernel: KernelProcess,
                                                     kext_dist: Path) -> None:
    env = kernel_env(kext_dist, IOKIT_KERNEL=kernel.path, PYTHONPATH="")
    # The tool's own process has no test kext: what it shows comes from the kernel.
    served = iokit("ioreg", "-r", "-c", "TestUCDriver", env=env)
    assert "TestUCDriver" in served.stdout, served.stderr


def test_explain_and_kextstat_read_the_kernel(kernel: KernelProcess, kext_dist: Path) -> None:
    env = kernel_env(kext_dist, PYTHONPATH="")
    explained = iokit("explain", "SMC", "--kernel", kernel.path, env=env)
    assert explained.returncode == 0, explained.stderr
    assert "com.test.userclient" in explained.stdout and "started" in explained.stdout
    loaded = iokit("kextstat", "--kernel", kernel.path, "-b", "com.test.userclient", env=env)
    assert "com.test.userclient (1.0.0)" in loaded.stdout, loaded.stderr
    missing = iokit("explain", "NoSuchNub", "--kernel", kernel.path, env=env)
    assert missing.returncode == 1 and "service-not-found" in missing.stderr


def test_a_hot_plug_applied_with_iokit_event_shows_in_ioreg(kernel_factory: KernelFactory,
                                                            tmp_path: Path) -> None:
    kernel = kernel_factory.start()
    scenario = tmp_path / "plug.toml"
    scenario.write_text(textwrap.dedent("""\
        [[event]]
        action = "plug"
        parent = "AppleACPIPlatformExpert"
        [event.nub]
        class = "IOACPIPlatformDevice"
        name = "SMC2"
        location = "9"
        [event.nub.properties]
        "name" = { data = "41505030303031" }

        [[event]]
        action = "unplug"
        path = "NotThere"

        [[event]]
        action = "beam"
        """), encoding="utf-8")
    applied = iokit("event", str(scenario), "--kernel", kernel.path)
    assert applied.stdout.splitlines()[0] == (
        "[t=0ns] plugged IOService:/AppleACPIPlatformExpert/SMC2@9: TestUCDriver")
    assert "skipped unplug" in applied.stdout
    assert "event[2].action" in applied.stderr  # the damaged event, named, was not sent
    assert "scenario-event-failed" in applied.stderr
    shown = iokit("ioreg", "-r", "-n", "SMC2@9", "--kernel", kernel.path)
    assert "+-o SMC2@9  <class IOACPIPlatformDevice" in shown.stdout
    assert "+-o TestUCDriver  <class TestUCDriver" in shown.stdout


def test_an_event_the_socket_cannot_carry_costs_only_itself(kernel_factory: KernelFactory,
                                                             tmp_path: Path) -> None:
    # An integer past 64 bits made `iokit event` an internal error and sent nothing.
    kernel = kernel_factory.start()
    scenario = tmp_path / "plug.toml"
    scenario.write_text(textwrap.dedent("""\
        [[event]]
        action = "unplug"
        path = "NotThere"
        note = 99999999999999999999999

        [[event]]
        action = "plug"
        parent = "AppleACPIPlatformExpert"
        [event.nub]
        class = "IOACPIPlatformDevice"
        name = "SMC3"
        location = "7"
        """), encoding="utf-8")
    applied = iokit("event", str(scenario), "--kernel", kernel.path)
    assert applied.returncode == 1
    assert "error[scenario-invalid]" in applied.stderr
    assert "event[0].note: 99999999999999999999999 does not fit in 64 bits" in applied.stderr
    assert "internal error" not in applied.stderr
    assert applied.stdout.splitlines() == [
        "[t=0ns] plugged IOService:/AppleACPIPlatformExpert/SMC3@7: no driver"]


def test_an_event_nested_too_deep_costs_only_itself(kernel_factory: KernelFactory,
                                                    tmp_path: Path) -> None:
    # One table past the value limits made `iokit event` refuse the whole scenario, where
    # `iokit boot --events` loses only that event.
    kernel = kernel_factory.start()
    scenario = tmp_path / "plug.toml"
    deep = "[" * 200 + "]" * 200
    scenario.write_text(textwrap.dedent(f"""\
        [[event]]
        action = "publish"
        resource = "Before"

        [[event]]
        action = "plug"
        parent = "AppleACPIPlatformExpert"
        [event.nub]
        class = "IOACPIPlatformDevice"
        name = "Deep"
        [event.nub.properties]
        x = {deep}

        [[event]]
        action = "plug"
        parent = "AppleACPIPlatformExpert"
        [event.nub]
        class = "IOACPIPlatformDevice"
        name = "SMC4"
        location = "8"
        """), encoding="utf-8")
    applied = iokit("event", str(scenario), "--kernel", kernel.path)
    assert applied.returncode == 1
    assert "error[scenario-invalid]" in applied.stderr
    assert "event[1]" in applied.stderr and "nested 129 deep" in applied.stderr
    assert "internal error" not in applied.stderr
    assert applied.stdout.splitlines() == [
        "[t=0ns] published Before: started nothing",
        "[t=0ns] plugged IOService:/AppleACPIPlatformExpert/SMC4@8: no driver"]


_DATED = """\
    [[event]]
    action = "plug"
    parent = "AppleACPIPlatformExpert"
    [event.nub]
    class = "IOACPIPlatformDevice"
    name = "Dated"
    [event.nub.properties]
    when = 1979-05-27T07:32:00Z

    [[event]]
    action = "wake"
    reason = 07:32:00

    [[event]]
    action = "publish"
    resource = "After"
    """


def test_a_toml_date_is_refused_by_iokit_event_as_by_iokit_boot(kernel_factory: KernelFactory,
                                                                tmp_path: Path) -> None:
    # `iokit event` sent a date as its text: the nub was plugged with a string property that
    # `iokit boot --events` refused, and a time became a wake's reason.
    kernel = kernel_factory.start()
    scenario = tmp_path / "dated.toml"
    scenario.write_text(textwrap.dedent(_DATED), encoding="utf-8")
    applied = iokit("event", str(scenario), "--kernel", kernel.path)
    booted = iokit("boot", "--events", str(scenario))
    refusals = [
        ("event[0].nub.properties.when: a TOML date-time (1979-05-27T07:32:00+00:00) is not a "
         "value an event takes"),
        "event[1].reason: a TOML time (07:32:00) is not a value an event takes"]
    for refusal in refusals:
        assert refusal in applied.stderr and refusal in booted.stderr
    assert applied.returncode == 1 and "internal error" not in applied.stderr
    assert applied.stdout.splitlines() == ["[t=0ns] published After: started nothing"]
    assert "published After: started nothing" in booted.stdout
    assert "Dated" not in iokit("ioreg", "--kernel", kernel.path).stdout


@settings(max_examples=60, deadline=None)
@given(tables=st.lists(st.dictionaries(
    st.sampled_from(["action", "reason", "resource", "x"]),
    st.recursive(st.one_of(st.sampled_from(["publish", "wake", "R"]), st.integers(0, 9),
                           st.dates(), st.times(), st.datetimes()),
                 lambda inner: st.one_of(st.lists(inner, max_size=3),
                                         st.dictionaries(st.text(max_size=3), inner,
                                                         max_size=3)),
                 max_leaves=6), max_size=4), max_size=4))
def test_a_table_with_a_date_is_not_sent_and_named_as_the_reader_names_it(
        tables: list[dict[str, object]]) -> None:
    wired, _sizes, unsent = _wire_tables(tables, "f.toml")
    read: list[Diagnostic] = []
    events_from_tables(tables, file="f.toml", report=read.append)
    dated = [d for d in read if "is not a value an event takes" in d.message]
    assert unsent == dated  # the same events, the same words
    for table in wired:
        packb(table)  # every table sent is one msgpack carries: no date left in it
    assert sum(table is None for table in wired) == len(dated)


def test_a_scenario_past_one_request_applies_whole_and_numbers_as_the_file(
        kernel_factory: KernelFactory, tmp_path: Path) -> None:
    # The kernel takes 10,000 events and 4 MiB a request: a longer scenario was refused whole
    # ("'events' must be an array of at most 10000"), a larger one too ("a frame of ... bytes").
    kernel = kernel_factory.start()
    scenario = tmp_path / "long.toml"
    advance = '[[event]]\naction = "advance"\nms = 1\n'
    long_name = "x" * (3 << 20)  # each event 3 MiB: no two fit in one request
    noted = '[[event]]\naction = "publish"\nresource = "R{}' + long_name + '"\n'
    scenario.write_text(advance * 10_001 + "".join(noted.format(i) for i in range(3))
                        + '[[event]]\naction = "nope"\n', encoding="utf-8")
    applied = iokit("event", str(scenario), "--kernel", kernel.path)
    assert applied.returncode == 1
    assert "internal error" not in applied.stderr
    assert "event[10004].action" in applied.stderr  # numbered as the file numbers it
    lines = applied.stdout.splitlines()
    assert len(lines) == 10_004
    assert [line.split("] ")[1] for line in lines[10_001:]] == [
        f"published R{i}{long_name}: started nothing" for i in range(3)]


@pytest.mark.parametrize("reply", [{}, {"line": 3}, {"line": b"bytes"}])
def test_a_wait_reply_without_a_line_of_text_is_a_clear_error(reply: dict[str, object]) -> None:
    from iokit_host.server.client import KernelToolError, await_transition

    asked: list[str] = []

    def ask(op: str) -> dict[str, object]:
        asked.append(op)
        return reply

    with pytest.raises(KernelToolError) as caught:
        await_transition(ask, "/k.sock")
    assert caught.value.diagnostic.reference == "kernel-reply-invalid"
    assert asked == ["tool.event_wait"]  # at once: not waited on until the deadline


@pytest.mark.parametrize(("reply", "expected"), [
    ({"lines": []}, None), ({"resume": 5}, 5), ({"resume": 3}, None), ({"resume": 9}, None),
    ({"resume": True}, None), ({"resume": "4"}, None)])
def test_resume_must_name_an_event_after_the_part_sent(reply: dict[str, object],
                                                       expected: int | None) -> None:
    from iokit_host.server.client import resume_of

    if expected is None and "resume" in reply:
        with pytest.raises(ValueError, match="is not an event after 3"):
            resume_of(reply, 3, 8)
    else:
        assert resume_of(reply, 3, 8) == expected


@given(value=st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4))
def test_next_must_name_an_event_inside_the_part_sent(value: object) -> None:
    from iokit_host.server.client import next_of

    good = type(value) is int and 3 < value < 8
    if value is None or good:
        assert next_of({"next": value}, 3, 8) == value
    else:
        with pytest.raises(ValueError, match="is not an event after 3 and before 8"):
            next_of({"next": value}, 3, 8)


def test_a_long_scenario_is_applied_in_slices_and_every_event_reported_once(
        kernel_factory: KernelFactory, tmp_path: Path) -> None:
    """One tool.events request applied all its events: 10,000 plugs held every other
    client back 7.7 s. Each request now applies events for EVENTS_SLICE_S and says where
    the rest starts (``next``); ``iokit event`` sends it at once."""
    from iokit_sdk.iokitlib import MainPort

    from iokit_host.server.tool_ops import EVENTS_SLICE_S

    kernel = kernel_factory.start()
    count = 1500

    def plug(i: int) -> str:
        return (f'[[event]]\naction = "plug"\nparent = "IOService:/AppleACPIPlatformExpert"\n'
                f'[event.nub]\nclass = "IOService"\nname = "P{i}"\nlocation = "{i:x}"\n')
    tables = [plug(i) for i in range(count)]
    tables.insert(700, '[[event]]\naction = "beam"\n')  # damaged: reported once
    scenario = tmp_path / "many.toml"
    scenario.write_text("\n".join(tables), encoding="utf-8")
    applied = iokit("event", str(scenario), "--kernel", kernel.path)
    assert applied.returncode == 1  # the damaged event, said once
    plugged = [line for line in applied.stdout.splitlines() if " plugged " in line]
    assert len(plugged) == count and f"/P{count - 1}@{count - 1:x}: " in plugged[-1]
    assert applied.stderr.count("event[700].action") == 1
    with MainPort(kernel.path) as port:
        reply = port.call("tool.events", events=[
            {"action": "unplug", "path": f"P{i}@{i:x}"} for i in range(count)])
    assert 0 < reply["next"] == len(reply["lines"]) < count, EVENTS_SLICE_S
