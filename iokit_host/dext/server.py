"""The driver process: ``python -m iokit_host.dext.server`` (a dext's ``IOUserServer`` task).

Launched by the kernel (:mod:`iokit_host.dext.process`) with one end of a socket pair and the
read end of a life pipe. It imports the kext's package (registering its classes), checks in
with the one-time token from ``IOKIT_DEXT_TOKEN``, then serves the kernel's calls one at a
time. Nothing here catches a driver's exception: one escaping is the process's crash, as in a
dext, and the kernel sees the socket close. The process ends when the kernel asks, when the
socket closes, or when the life pipe does (the kernel's process is gone), whatever the driver
is doing.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from typing import Any

from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService
from iokit_sdk.userclient import IOExternalMethodArguments, IOUserClient, OwningTask

from iokit_host.dext.channel import Channel, ChannelClosed
from iokit_host.dext.driverside import (
    ObjectTable,
    UserKernel,
    find_classes,
    provider_stub,
    stand_in_class,
)

__all__ = ["main"]

_SCALARS = (type(None), bool, int, float, str, bytes)


def _watch_life(fd: int) -> None:
    """Exit the moment the kernel's end of the life pipe closes (the kernel died)."""
    def watch() -> None:
        try:
            os.read(fd, 1)
        finally:
            os._exit(0)
    threading.Thread(target=watch, name="iokit-dext-life", daemon=True).start()


class DriverServer:
    """Serves one kernel's calls on this process's driver objects."""

    def __init__(self, channel: Channel, package: str | None) -> None:
        self.channel = channel
        self.classes = find_classes(package)
        self.table = ObjectTable()
        self.kernel = UserKernel(self.table)
        self.providers: dict[int, IOService] = {}

    def serve(self) -> None:
        while True:
            try:
                message = self.channel.receive()
            except ChannelClosed:
                return
            op = message.get("op")
            if op == "exit":
                return
            handler = getattr(self, f"op_{op}", None)
            reply = handler(message) if handler is not None else {
                "ok": False, "error": f"unknown operation {op!r}"}
            self.channel.send(reply)

    def op_ping(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "result": message.get("value")}

    def op_create(self, message: dict[str, Any]) -> dict[str, Any]:
        name = str(message["class"])
        cls = self.classes.get(name)
        if cls is None:
            if message.get("codeless"):
                cls = stand_in_class(name)
            else:
                return {"ok": False, "error": f"class {name} is not defined in the kext's package"}
        if not issubclass(cls, IOService):
            return {"ok": False, "error": f"class {name} is not an IOService"}
        service = cls()
        service._kernel = self.kernel
        obj = int(message["obj"])
        self.table.add(obj, service)
        result = service.init(message.get("props") or {})
        return self._reply(obj, result, chain=list(service.class_chain))

    def op_call(self, message: dict[str, Any]) -> dict[str, Any]:
        obj = int(message["obj"])
        service = self.table.objects.get(obj)
        if service is None:
            return {"ok": False, "error": f"no driver object {obj}"}
        method = str(message["method"])
        args = list(message.get("args") or [])
        provider = self._provider(message.get("provider"))
        if method in ("probe", "start", "stop", "will_terminate", "did_terminate"):
            args.insert(0, provider)
        elif method == "message":
            args.insert(1, provider)
        elif method == "set_power_state":
            args.append(service)  # SetPowerState(ordinal, whatDevice): the service itself
        elif method == "new_user_client":
            return self._new_user_client(obj, service, int(message["uc"]), args)
        elif method == "external_method" and isinstance(service, IOUserClient):
            return self._reply(obj, _external_method(service, args))
        elif method not in ("free", "client_close", "client_died"):
            return {"ok": False, "error": f"method {method!r} does not cross"}
        result = getattr(service, method)(*args)
        if method == "free":
            self.table.remove(obj)
            return {"ok": True, "result": None}
        return self._reply(obj, result)

    def _new_user_client(self, obj: int, service: IOService, uc: int,
                         args: list[Any]) -> dict[str, Any]:
        """``NewUserClient``: the driver's override, else its ``IOUserClientClass``."""
        type_, props, task_fields = int(args[0]), dict(args[1] or {}), args[2]
        task = OwningTask(**{**task_fields, "entitlements": frozenset(
            task_fields.get("entitlements") or ())}) if isinstance(task_fields, dict) else None
        made = service.new_user_client(task, None, type_, props)
        if made is None:
            name = service.get_property("IOUserClientClass")
            cls = self.classes.get(name) if isinstance(name, str) else None
            made = cls() if cls is not None and issubclass(cls, IOUserClient) else None
            if made is None:
                return self._reply(obj, int(IOReturn.UNSUPPORTED))
        if not isinstance(made, IOUserClient):
            return self._reply(obj, made if isinstance(made, int) else int(IOReturn.UNSUPPORTED))
        made._kernel = self.kernel
        if task is not None:
            made.init_with_task(task, None, type_, props)
        self.table.add(uc, made)
        self.table.changed_properties(uc)  # what travels now is not sent again
        return self._reply(obj, {"name": made.get_name(), "chain": list(made.class_chain),
                                 "props": dict(made.properties)})

    def _provider(self, spec: Any) -> IOService | None:
        if not isinstance(spec, dict):
            return None
        if "local" in spec:  # one of this process's own objects (a user client's driver)
            return self.table.objects.get(int(spec["local"]))
        key = int(spec["obj"])
        stub = self.providers.get(key)
        if stub is None or "props" in spec:
            stub = provider_stub(list(spec.get("chain") or []), str(spec.get("name")),
                                 spec.get("location"), dict(spec.get("props") or {}))
            self.providers[key] = stub
        return stub

    def _reply(self, obj: int, result: Any, **extra: Any) -> dict[str, Any]:
        """The call's result and what the call changed: the object's properties, those of
        the process's other objects (a user client calling into its driver), the nubs it
        published and what it asked of the kernel."""
        changed, removed = self.table.changed_properties(obj)
        published, requests = self.kernel.take()
        others = [[other, *self.table.changed_properties(other)]
                  for other in self.table.objects if other != obj]
        others = [entry for entry in others if entry[1] or entry[2]]
        if not isinstance(result, _SCALARS) and not (type(result) is dict):
            result = f"<{type(result).__name__}>"
        reply: dict[str, Any] = {"ok": True, "result": result, **extra}
        # Only what happened travels: most calls change nothing but their result.
        for key, value in (("props", changed), ("removed", removed), ("others", others),
                           ("published", published), ("requests", requests)):
            if value:
                reply[key] = value
        return reply


def _external_method(client: IOUserClient, args: list[Any]) -> dict[str, Any]:
    """``ExternalMethod`` on ``client`` with the caller's arguments; what it wrote back."""
    selector, scalars, structure, scalar_count, structure_size = args
    arguments = IOExternalMethodArguments(
        int(selector), tuple(int(v) for v in scalars), bytes(structure), int(scalar_count),
        int(structure_size), task=client.owning_task)
    ret = client.external_method(int(selector), arguments)
    return {"ret": int(ret), "scalars": [int(v) for v in arguments.scalar_output],
            "structure": bytes(arguments.structure_output)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iokit_host.dext.server")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--life-fd", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--package", default="")
    args = parser.parse_args(argv)
    _watch_life(args.life_fd)
    channel = Channel(socket.socket(fileno=args.fd))
    server = DriverServer(channel, args.package or None)  # imports the driver: may crash
    channel.send({"op": "checkin", "token": os.environ.get("IOKIT_DEXT_TOKEN", ""),
                  "pid": os.getpid(), "name": args.name, "classes": sorted(server.classes)})
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
