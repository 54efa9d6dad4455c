"""A registry snapshot rebuilt in a tool prints exactly as the kernel's own registry does."""

from __future__ import annotations

import msgpack
import pytest
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_archive, render_json, render_text
from iokit_host.server.snapshot import SnapshotError, rebuild, take

OPTIONS = [IoregOptions(list_properties=True), IoregOptions(plane="IODeviceTree",
                                                            list_properties=True),
           IoregOptions(plane="IOPower"), IoregOptions(inheritance=True, hex_numbers=True),
           IoregOptions(class_name="IOPCIDevice", root=True, tree=True, list_properties=True)]


@pytest.fixture(scope="module")
def booted() -> IOKitHost:
    return IOKitHost().boot()


def _over_the_wire(snapshot: dict[str, object]) -> dict[str, object]:
    (message,) = FrameReader(MAX_KERNEL_FRAME).feed(pack({"snapshot": snapshot}))
    return message["snapshot"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("options", OPTIONS)
def test_a_rebuilt_registry_renders_like_the_original(booted: IOKitHost,
                                                      options: IoregOptions) -> None:
    copy = rebuild(_over_the_wire(take(booted.registry)))
    assert render_text(copy, options) == render_text(booted.registry, options)
    assert render_archive(copy, options) == render_archive(booted.registry, options)
    assert render_json(copy, options) == render_json(booted.registry, options)


def test_something_that_is_not_a_snapshot_is_refused() -> None:
    with pytest.raises(SnapshotError):
        rebuild({"planes": ["IOService"], "root": 1, "entries": [{"id": 1}]})
    with pytest.raises(SnapshotError):
        rebuild(msgpack.unpackb(msgpack.packb({"planes": 3})))
