"""The width of a number user space printed: what an ``OSNumber``'s CF form says of its size.

IOKitLib hands user space an OSNumber of up to 32 bits as a CF ``SInt32`` and a wider one as
an ``SInt64`` (``IOCFUnserialize``'s ``buildNumber``). So a 32-bit number with its top bit set
arrives negative: ``ioreg`` prints a 32-bit 0x80000000 as ``18446744071562067968`` (``%qu``
of the sign-extended value), and ``ioreg -a`` writes it as ``-2147483648``. A number printed as
2**31 or more (and below 2**63) was therefore never a 32-bit one: it is read back as 64 bits,
so the registry prints it again as the Mac did. Below 2**31 the width cannot be told, and 32
bits (most of IOKit's numbers) prints the same.
"""

from __future__ import annotations

__all__ = ["printed_width"]

#: The least number a CF ``SInt32`` cannot hold as a positive value.
_SIGNED_32 = 1 << 31


def printed_width(number: int) -> int:
    """The bit width of the OSNumber a non-negative printed ``number`` came from (32 or 64)."""
    return 32 if number < _SIGNED_32 else 64
