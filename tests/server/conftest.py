"""Fixtures: running kernels, and in-process hosts with the test kext (tests/kernelkit.py)."""

from kernelkit import (
    driver,
    kernel,
    kernel_factory,
    kext_dist,
    task,
    test_kext,
    uc_host,
    user_clients,
    wired,
)

__all__ = ["driver", "kernel", "kernel_factory", "kext_dist", "task", "test_kext", "uc_host",
           "user_clients", "wired"]
