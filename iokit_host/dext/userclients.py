"""A dext's user clients from the kernel's side: ``NewUserClient``, ``ExternalMethod`` and
``CopyClientMemoryForType`` forwarded to the driver process (``IOUserUserClient`` in xnu).

A program opens and calls a dext's user client through the kernel as it would a kext's; the
kernel holds an :class:`~iokit_host.dext.proxy.IOUserUserClient` and these calls cross to the
user client object the process made. A process that is gone, or dies answering, is
``kIOReturnNotResponding``; a user client the program may not open (§8.3) is
``kIOReturnNotPermitted``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import IOExternalMethodArguments

from iokit_host.dext.manager import DextCallError, DextCrashedError, type_is_int
from iokit_host.dext.placement import user_client_refusal_for
from iokit_host.dext.proxy import IOUserService, IOUserUserClient

if TYPE_CHECKING:
    from iokit_host.dext.manager import DextManager

__all__ = ["client_memory", "external_method", "new_user_client"]


def new_user_client(manager: DextManager, proxy: IOUserService, task: Any, type: int,
                    properties: Mapping[str, Any] | None) -> Any:
    """``NewUserClient`` in the process: a kernel-side :class:`IOUserUserClient` for the
    user client made there, or an IOReturn (``kIOReturnNotResponding`` when the process
    is gone or dies answering)."""
    record = manager.live_record(proxy)
    if record is None:
        return IOReturn.NOT_RESPONDING
    obj = next(manager.object_numbers)
    try:
        reply = manager.send(record, proxy, {
            "op": "call", "obj": proxy.dext_obj, "method": "new_user_client", "uc": obj,
            "args": [type, dict(properties or {}), _task(task)]}, "new_user_client")
    except (DextCrashedError, DextCallError):
        return IOReturn.NOT_RESPONDING
    result = reply.get("result")
    if not isinstance(result, dict):
        return result if type_is_int(result) else IOReturn.UNSUPPORTED
    client = IOUserUserClient(dict(result.get("props") or {}))
    name = result.get("name")
    if isinstance(name, str):
        client.set_name(name)
    client.dext_obj, client.dext_server = obj, record.name
    record.proxies[obj] = client
    refusal = user_client_refusal_for(manager.kernel, proxy, task, client)
    if refusal is not None:
        manager.free(client)  # the user client made in the process goes (terminate)
        return IOReturn.NOT_PERMITTED
    return client

def external_method(manager: DextManager, client: IOUserUserClient, selector: int,
                    arguments: IOExternalMethodArguments) -> int:
    """``ExternalMethod`` in the process; the scalars and structure it wrote come back
    into ``arguments``. An async call's reference is lent to the process as a token
    (:mod:`.completions`); kept only when the call succeeds."""
    record = manager.live_record(client)
    if record is None:
        return IOReturn.NOT_RESPONDING
    args: list[Any] = [selector, list(arguments.scalar_input),
                       bytes(arguments.structure_input), arguments.scalar_output_count,
                       arguments.structure_output_size]
    token = None
    if arguments.async_reference is not None:
        token = manager.upcalls.completions.lend(record.name, client,
                                              arguments.async_reference)
        if token is None:
            return IOReturn.NO_RESOURCES
        args.append([token, list(arguments.async_reference.words)])
    try:
        reply = manager.call(record, client, "external_method", None, args)
    except (DextCrashedError, DextCallError):
        return IOReturn.NOT_RESPONDING
    result = reply.get("result")
    if token is not None and (not isinstance(result, dict)
                              or result.get("ret") != IOReturn.SUCCESS):
        manager.upcalls.completions.drop(token)
    if not isinstance(result, dict) or not type_is_int(result.get("ret")):
        return IOReturn.INTERNAL_ERROR
    scalars = result.get("scalars")
    if isinstance(scalars, list) and all(type_is_int(v) for v in scalars):
        arguments.scalar_output = list(scalars)
    structure = result.get("structure")
    if isinstance(structure, bytes):
        arguments.structure_output = structure
    return int(result["ret"])

def client_memory(manager: DextManager, client: IOUserUserClient, type: int) -> Any:
    """``CopyClientMemoryForType`` in the process: its buffer, passed to the kernel as a
    descriptor (:mod:`.memory`), or an IOReturn (``kIOReturnNotResponding`` when the
    process is gone or dies answering)."""
    record = manager.live_record(client)
    process = record.process if record is not None else None
    if record is None or process is None or process.channel is None:
        return IOReturn.NOT_RESPONDING
    channel = process.channel
    channel.accept_fds = True
    try:
        reply = manager.call(record, client, "client_memory_for_type", None, [type])
    except (DextCrashedError, DextCallError):
        return IOReturn.NOT_RESPONDING
    finally:
        channel.accept_fds = False
    fd = channel.take_fd()
    channel.close_fds()
    result = reply.get("result")
    if isinstance(result, dict):
        return manager.upcalls.memory.adopt(record.name, client, fd, result.get("memory"),
                                         process.memory_dir)
    if fd is not None:
        os.close(fd)
    return result & 0xFFFFFFFF if type_is_int(result) and result else IOReturn.INTERNAL_ERROR


def _task(task: Any) -> dict[str, Any] | None:
    """The caller, as a driver process's user client sees it (``OwningTask``'s fields)."""
    if task is None:
        return None
    return {"pid": getattr(task, "pid", 0), "uid": getattr(task, "uid", 0),
            "gid": getattr(task, "gid", 0), "name": str(getattr(task, "name", "")),
            "entitlements": sorted(getattr(task, "entitlements", ()))}
