"""More services than a connection may hold objects (65,536), through a real ``iokit kernel``:
``IOServiceGetMatchingServices`` and matching notifications answered ``kIOReturnNoResources``
on such a registry, for the kernel handed over a handle for every service at once. Now the
kernel keeps an iterator and the program takes its services a batch at a time, releasing as it
goes; so does the explorer's watcher, which had given up on notifications for a slow poll."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from iokit_sdk.iokitlib import (
    IO_OBJECT_NULL,
    IOIteratorIsValid,
    IOIteratorNext,
    IOIteratorReset,
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IOObjectGetClass,
    IOObjectRelease,
    IORegistryEntryGetName,
    IOServiceAddMatchingNotification,
    IOServiceGetMatchingServices,
    IOServiceMatching,
    KernelConnectionError,
    MainPort,
    io_iterator_t,
    kIOPublishNotification,
)
from iokit_sdk.returns import IOReturnError
from kernelkit import KernelFactory, KernelProcess, big_machine, iokit

from iokit_host.explorer.live import _drain, _subscribe

#: Booting the machine takes some 10 s.
pytestmark = pytest.mark.slow

#: The machine's nubs: more than the 65,536 objects one connection may hold.
NUBS = 70_000
WAIT_S = 60.0


@pytest.fixture(scope="module")
def big_kernel(kext_dist: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[KernelProcess]:
    """A kernel of a 70,000-nub machine (booting it takes some seconds: shared)."""
    machine = big_machine(tmp_path_factory.mktemp("big") / "big.toml", NUBS + 2)
    factory = KernelFactory(kext_dist)
    try:
        yield factory.start("--machine", str(machine), "--only-kexts")
    finally:
        factory.close()


def _every_service(port: MainPort) -> io_iterator_t:
    return IOServiceGetMatchingServices(port, IOServiceMatching("IOService"))


def test_70000_services_are_iterated_to_the_end_each_released(
        big_kernel: KernelProcess) -> None:
    with MainPort(big_kernel.path) as port:
        iterator = _every_service(port)
        count = 0
        while service := IOIteratorNext(iterator):
            count += 1
            IOObjectRelease(service)
        assert count >= NUBS
        assert IOIteratorIsValid(iterator)  # a set of its own: never invalid
        IOObjectRelease(iterator)
        assert not IOIteratorIsValid(iterator)
        assert IOIteratorNext(iterator) == IO_OBJECT_NULL


def _count(iterator: io_iterator_t) -> int:
    """Count the services of ``iterator`` to the end, releasing each, then it."""
    count = 0
    while service := IOIteratorNext(iterator):
        count += 1
        IOObjectRelease(service)
    IOObjectRelease(iterator)
    return count


def test_reset_gives_the_same_services_again_each_a_new_reference(
        big_kernel: KernelProcess) -> None:
    with MainPort(big_kernel.path) as port:
        iterator = _every_service(port)
        first = IOIteratorNext(iterator)
        name = IORegistryEntryGetName(first)
        IOObjectRelease(first)  # the program's only reference: the handle is gone
        for _ in range(300):  # past the first batch, so the reset drops a buffered one too
            IOObjectRelease(IOIteratorNext(iterator))
        IOIteratorReset(iterator)
        again = IOIteratorNext(iterator)
        assert IORegistryEntryGetName(again) == name  # usable: a new reference
        IOObjectRelease(again)
        IOObjectRelease(iterator)


def test_an_iterator_released_midway_releases_what_it_had_taken(
        big_kernel: KernelProcess) -> None:
    with MainPort(big_kernel.path) as port:
        iterator = _every_service(port)
        taken = IOIteratorNext(iterator)
        buffered = iterator.unread()[0]  # taken from the kernel, not yet handed out
        assert IOObjectGetClass(buffered)
        IOObjectRelease(iterator)
        with pytest.raises(IOReturnError):  # the kernel let go of it with the iterator
            IOObjectGetClass(buffered)
        assert IOObjectGetClass(taken)  # what the program took is its own
        IOObjectRelease(taken)
        assert _count(_every_service(port)) >= NUBS  # and it can look up again


def test_a_session_closed_midway_ends_the_iteration_and_the_kernel_goes_on(
        big_kernel: KernelProcess) -> None:
    port = MainPort(big_kernel.path)
    iterator = _every_service(port)
    IOObjectRelease(IOIteratorNext(iterator))
    port.close()
    while iterator.unread():  # what was taken before the close is handed out still
        IOIteratorNext(iterator)
    with pytest.raises(KernelConnectionError):
        IOIteratorNext(iterator)
    assert not IOIteratorIsValid(iterator)
    with MainPort(big_kernel.path) as other:
        assert _count(_every_service(other)) >= NUBS


def test_a_notification_on_70000_services_delivers_a_newly_published_one(
        big_kernel: KernelProcess, tmp_path: Path) -> None:
    with MainPort(big_kernel.path) as port:
        notify = IONotificationPortCreate(port)
        published: list[str] = []

        def arrived(refcon: object, iterator: io_iterator_t) -> None:
            while service := IOIteratorNext(iterator):
                published.append(IORegistryEntryGetName(service))
                IOObjectRelease(service)

        iterator = IOServiceAddMatchingNotification(
            notify, kIOPublishNotification, IOServiceMatching("IOService"), arrived)
        existing = 0
        while service := IOIteratorNext(iterator):  # arms it, as in C
            existing += 1
            IOObjectRelease(service)
        assert existing >= NUBS
        _plug(big_kernel, tmp_path, "Newcomer")
        while "Newcomer" not in published and IONotificationPortDispatch(notify, WAIT_S):
            pass
        assert "Newcomer" in published
        IOObjectRelease(iterator)


def test_the_explorers_watcher_keeps_notifications_on_70000_services(
        big_kernel: KernelProcess, tmp_path: Path) -> None:
    """Its subscription failed (kIOReturnNoResources) and it fell back on a poll of up to
    30 s between snapshots."""
    with MainPort(big_kernel.path) as port:
        handle = _subscribe(port)
        assert handle is not None
        _plug(big_kernel, tmp_path, "Watched")
        while not _drain(port, handle):
            port.wait(WAIT_S)
            assert port.closed_reason is None


def _plug(kernel: KernelProcess, tmp_path: Path, name: str) -> None:
    events = tmp_path / f"{name}.toml"
    events.write_text(f'[[event]]\naction = "plug"\nparent = "N1"\n'
                      f'[event.nub]\nclass = "IOService"\nname = "{name}"\n', encoding="utf-8")
    done = iokit("event", str(events), "--kernel", kernel.path)
    assert done.returncode == 0, done.stderr
