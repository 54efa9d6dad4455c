"""AppleSMCClient: the user client programs open on AppleSMC (``IOServiceOpen(smc, task, 0)``).

Its dispatch table (``IOUserClient2022``, IOKIT_SEMANTICS.md §7):

====  ===========  ====================================  ==========================================
sel   method       in / out                              fails with
====  ===========  ====================================  ==========================================
0     read key     struct in: key (4 bytes);             ``kIOReturnNotFound`` (no such key)
                   struct out: type (4) + value bytes
1     write key    struct in: key (4) + value bytes;     ``kIOReturnNotPrivileged`` without
                   needs ``com.example.smc.write``       ``com.example.smc.write``;
                                                         ``kIOReturnNotWritable``, ``NotFound``,
                                                         ``BadArgument`` (wrong size)
2     key count    scalar out: 1                         -
3     watch keys   async; struct in: a key, or nothing   -
                   for every key; each change sends
                   (fourcc, value, size)
====  ===========  ====================================  ==========================================

Anyone may open it (``IOUserClientEntitlements`` false); writing is the entitled part, as the
operator's policy grants (``iokit kernel --entitlements``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from iokit_sdk import IOReturn
from iokit_sdk.userclient import (
    DEFAULT_LOCKING,
    IOExternalMethodArguments,
    IOExternalMethodDispatch2022,
    IOUserClient,
    IOUserClient2022,
    kIOUCVariableStructureSize,
    kIOUserClientEntitlementsKey,
)

from iokit_sample_smc.driver import AppleSMC
from iokit_sample_smc.keys import KEY_LENGTH, MAX_DATA

__all__ = ["WRITE_ENTITLEMENT", "AppleSMCClient", "Selector"]

WRITE_ENTITLEMENT = "com.example.smc.write"
VAR = kIOUCVariableStructureSize


class Selector:
    READ_KEY = 0
    WRITE_KEY = 1
    KEY_COUNT = 2
    WATCH = 3


def _smc(target: IOUserClient) -> AppleSMC:
    provider = target.get_provider()
    assert isinstance(provider, AppleSMC)
    return provider


def _key_name(raw: bytes) -> str | None:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def _read(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    name = _key_name(args.structure_input)
    key = _smc(target).read_key(name) if name is not None else None
    if key is None:
        return IOReturn.NOT_FOUND
    args.structure_output = key.type.encode("ascii") + key.data
    return IOReturn.SUCCESS


def _write(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    raw = args.structure_input
    name = _key_name(raw[:KEY_LENGTH])
    if name is None or len(raw) <= KEY_LENGTH or len(raw) > KEY_LENGTH + MAX_DATA:
        return IOReturn.BAD_ARGUMENT
    return _smc(target).write_key(name, raw[KEY_LENGTH:])


def _count(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    args.scalar_output[0] = len(_smc(target).keys)
    return IOReturn.SUCCESS


def _watch(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    assert args.async_reference is not None  # the entry allows async calls only
    raw = args.structure_input
    name = _key_name(raw) if raw else None
    if raw and (name is None or len(raw) != KEY_LENGTH):
        return IOReturn.BAD_ARGUMENT
    _smc(target).watch(target, args.async_reference, name)
    return IOReturn.SUCCESS


class AppleSMCClient(IOUserClient2022):
    user_client_properties: ClassVar[Mapping[str, Any]] = {
        **DEFAULT_LOCKING,
        kIOUserClientEntitlementsKey: False,  # anyone may open; writing is entitled
    }
    dispatch_table = (
        IOExternalMethodDispatch2022(_read, 0, KEY_LENGTH, 0, VAR),
        IOExternalMethodDispatch2022(_write, 0, VAR, 0, 0, check_entitlement=WRITE_ENTITLEMENT),
        IOExternalMethodDispatch2022(_count, 0, 0, 1, 0),
        IOExternalMethodDispatch2022(_watch, 0, VAR, 0, 0, allow_async=True),
    )

    def client_close(self) -> int:
        provider = self.get_provider()
        if isinstance(provider, AppleSMC):
            provider.forget(self)  # no change is sent to a closed client
        return super().client_close()
