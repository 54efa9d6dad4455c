"""Small registries for the ioreg tests, built with the real registry and class table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService, ServiceState

from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry

Maker = Callable[..., IORegistryEntry]


@pytest.fixture
def registry() -> IORegistry:
    return IORegistry()


@pytest.fixture
def make(registry: IORegistry) -> Maker:
    """``make(parent, class_name, name=, location=, props=, busy_ms=, plane=)``: attach a node.

    Nodes are registered and matched (as after a boot) unless ``state`` says otherwise.
    """
    classes = ClassRegistry()

    def _make(parent: IORegistryEntry | None, class_name: str = "IOService", *,
              name: str | None = None, location: str | None = None,
              props: Mapping[str, Any] | None = None, busy_ms: int = 0,
              state: int = ServiceState.REGISTERED | ServiceState.MATCHED,
              plane: str = "IOService") -> IORegistryEntry:
        cls = classes.resolve(class_name, default_super="IOService")
        entry = cls(props, name=name, location=location)
        if isinstance(entry, IOService):
            entry._state = state
            entry._busy_time_ns = busy_ms * 1_000_000
        registry.attach(entry, parent if parent is not None else registry.root, plane)
        return entry

    return _make
