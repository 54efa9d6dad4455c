"""Fixtures: running kernels serving the explorer (tests/explorerkit.py), and the user-client
test kext (tests/kernelkit.py)."""

from explorerkit import explorer, explorer_factory, tardy_dist
from kernelkit import kernel_factory, kext_dist

__all__ = ["explorer", "explorer_factory", "kernel_factory", "kext_dist", "tardy_dist"]
