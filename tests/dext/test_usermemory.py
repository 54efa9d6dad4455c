"""A driver process's buffers: what it hands the kernel for a program to map, and what it
leaves behind when its kernel is gone (nothing)."""

from __future__ import annotations

import os

import pytest
from iokit_sdk import IOReturn
from iokit_sdk.memory import IOBufferMemoryDescriptor

from iokit_host.dext.usermemory import MEMORY_DIR_ENV, ClientMemory, remove_memory_directory


@pytest.fixture
def backed(tmp_path, monkeypatch):
    """This process as a driver process: its kernel named a directory for its buffers."""
    monkeypatch.setattr(IOBufferMemoryDescriptor, "backing_directory", None)
    monkeypatch.setenv(MEMORY_DIR_ENV, str(tmp_path / "dext"))
    (tmp_path / "dext").mkdir()
    return tmp_path / "dext"


def test_a_buffer_is_handed_over_as_a_descriptor_of_the_same_pages(backed):
    buffer = IOBufferMemoryDescriptor.with_capacity(64)
    assert buffer.path is not None and buffer.path.startswith(str(backed))
    shared = ClientMemory().share(1, buffer)
    assert isinstance(shared, tuple)
    fd, length = shared
    try:
        buffer.write_bytes(0, b"same pages")
        assert (length, os.pread(fd, 10, 0)) == (64, b"same pages")
    finally:
        os.close(fd)
    buffer.release()


def test_what_is_not_a_shareable_buffer_answers_an_ioreturn(backed, monkeypatch):
    memory = ClientMemory()
    assert memory.share(1, IOReturn.NO_MEMORY) == IOReturn.NO_MEMORY
    assert memory.share(1, IOReturn.SUCCESS) == IOReturn.BAD_ARGUMENT  # success, but no memory
    assert memory.share(1, b"bytes") == IOReturn.BAD_ARGUMENT
    released = IOBufferMemoryDescriptor.with_capacity(8)
    released.release()
    assert memory.share(1, released) == IOReturn.BAD_ARGUMENT
    monkeypatch.delenv(MEMORY_DIR_ENV)
    anonymous = IOBufferMemoryDescriptor.with_capacity(8)  # not a driver process: anonymous
    assert anonymous.path is None
    if not callable(getattr(anonymous, "fileno", None)):
        assert memory.share(1, anonymous) == IOReturn.UNSUPPORTED  # nothing to pass on


def test_a_process_whose_kernel_is_gone_removes_its_buffers(backed):
    IOBufferMemoryDescriptor.with_capacity(16)
    assert os.listdir(backed)
    remove_memory_directory()
    assert not backed.exists()
    remove_memory_directory()  # twice, or with nothing there: nothing to do
