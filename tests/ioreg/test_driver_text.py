"""A driver's string with a lone surrogate never reaches the printers: `iokit boot`, `ioreg -l`,
`--json` and `-a` ended with "internal error: UnicodeEncodeError"; now the driver's own call
fails (`driver-start-raised`, naming PropertyTextError) and every printer writes UTF-8."""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.ioreg import IoregOptions, render_archive, render_json, render_text

BAD = "bad\ud800name"
ACTS: dict[str, Callable[[IOService], object]] = {
    "name": lambda s: s.set_name(BAD),
    "location": lambda s: s.set_location(BAD),
    "key": lambda s: s.set_property(BAD, 1),
    "value": lambda s: s.set_property("k", {"deep": [BAD]}),
}


@pytest.mark.parametrize("act", list(ACTS))
def test_the_driver_call_fails_and_the_registry_still_prints(act: str) -> None:
    class Careless(IOService):
        def start(self, provider: IOService) -> bool:
            ACTS[act](self)
            return True

    bundle = kext("com.test.text", {"c": personality("Careless", score=100)})
    host = make_host([wifi_nub()], [bundle], {"com.test.text": [Careless]}).boot()
    (fault,) = host.diagnostics
    assert fault.reference == "driver-start-raised"
    assert "start raised PropertyTextError: " in fault.message
    assert "lone surrogate ('\\ud800' at index 3)" in fault.message
    str(fault).encode("utf-8")  # the diagnostic prints
    options = IoregOptions(list_properties=True)
    render_text(host.registry, options).encode("utf-8")
    json.loads(render_json(host.registry, options))
    plistlib.loads(render_archive(host.registry, options))
