"""IOLog: what a driver prints, during its calls or from a thread of its own, goes to the
kernel's log (stderr); the command's own output stays clean (a plist stays a plist)."""

from __future__ import annotations

import io
import sys
import threading

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.kernel.iolog import IOLog, route_driver_output


class Chatty(IOService):
    def start(self, provider: IOService) -> bool:
        print("hello from start")
        talker = threading.Thread(target=print, args=("hello from a driver thread",))
        talker.start()
        talker.join()
        return True


def test_a_drivers_prints_go_to_the_log_and_the_commands_to_its_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    output, log = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", output)
    monkeypatch.setattr(sys, "stderr", log)
    host = make_host([wifi_nub()], [kext("com.test.c", {"c": personality("Chatty")})],
                     {"com.test.c": [Chatty]})
    route_driver_output(host.kernel.driver_calls)
    assert isinstance(sys.stdout, IOLog) and sys.stdout.output is output
    host.boot()
    print("the command's own output")
    sys.stdout.writelines(["a line\n"])
    assert output.getvalue() == "the command's own output\na line\n"
    assert log.getvalue() == "hello from start\nhello from a driver thread\n"
    again = make_host([wifi_nub()], [])
    route_driver_output(again.kernel.driver_calls)  # a second kernel: no wrapper on a wrapper
    assert sys.stdout.output is output and sys.stdout.calls is again.kernel.driver_calls  # type: ignore[attr-defined]
