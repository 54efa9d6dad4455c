"""An AppleSMC-like kext: the SMC's keys behind a user client, and the tools that read them."""

from __future__ import annotations

from iokit_sample_smc.client import AppleSMCClient
from iokit_sample_smc.driver import AppleSMC

__all__ = ["AppleSMC", "AppleSMCClient"]
