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

import os
import socket
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.returns import MACH_SEND_INVALID_DEST, IOReturn
from iokit_sdk.service import IOService
from iokit_sdk.userclient import (
    IOExternalMethodArguments,
    IOUserClient,
    OSAsyncReference64,
    OwningTask,
)

from iokit_host.dext.channel import Channel
from iokit_host.dext.descendants import become_subreaper, kill_descendants
from iokit_host.dext.driverside import (
    ObjectTable,
    UserKernel,
    find_classes,
    link_provider,
    stand_in_class,
)
from iokit_host.dext.link import NO_REPLY, NOT_ANSWERED, DriverLink
from iokit_host.dext.remote import RemoteObjects
from iokit_host.dext.usermemory import ClientMemory, remove_memory_directory

__all__ = ["main"]

_SCALARS = (type(None), bool, int, float, str, bytes)


def _watch_life(fd: int) -> None:
    """Exit the moment the kernel's end of the life pipe closes (the kernel died), taking this
    process's buffers with it (a killed kernel removes nothing)."""
    def watch() -> None:
        try:
            os.read(fd, 1)
        finally:
            remove_memory_directory()
            kill_descendants(os.getpid())  # the driver's helpers, even those that left the group
            os._exit(0)
    threading.Thread(target=watch, name="iokit-dext-life", daemon=True).start()


class DriverServer:
    """Serves one kernel's calls on this process's driver objects."""

    def __init__(self, channel: Channel, package: str | None) -> None:
        self.channel = channel
        self.link = DriverLink(channel, self.handle, self._deliver_deferred)
        #: Notifications that arrived while the serving thread was busy with a kernel call:
        #: delivered once it is free, one at a time, as a dext's serial queue runs them.
        self._deferred: list[tuple[Any, ...]] = []
        self._delivering = False
        self.classes = find_classes(package)
        self.packages = {package} if package else set()
        self.table = ObjectTable()
        self.kernel = UserKernel(self.table, self._power_request, self._registry_request)
        self.remote = RemoteObjects(self._registry_request, self._adopt)
        self.memory = ClientMemory()
        # Each operation's handler by name, looked up once: a message is one dictionary read.
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")}

    def serve(self) -> None:
        self.link.serve()

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """One message from the kernel: its reply, or None for ``exit``."""
        op = message.get("op")
        if op == "exit":
            return None
        handler = self._handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"ok": False, "error": f"unknown operation {op!r}"}
        return handler(message)

    def _power_request(self, message: dict[str, Any]) -> Any:
        answer = self.link.request({"kind": "power", **message})
        return None if answer is NOT_ANSWERED else answer

    def _registry_request(self, message: dict[str, Any]) -> Any:
        answer = self.link.request({"kind": "registry", **message})
        return None if answer is NOT_ANSWERED else answer

    def _adopt(self, proxy: IOService) -> None:
        """A kernel object's proxy: its power requests (``join_pm_tree``) cross too."""
        proxy._kernel = self.kernel
        self.table.stubs[id(proxy)] = proxy

    def op_note(self, message: dict[str, Any]) -> dict[str, Any]:
        """A matching notification (one-way): the service, as a proxy, to its handler, now
        when the serving thread has nothing else in hand, else once it is free."""
        spec = message.get("service")
        service = self.remote.make(spec) if isinstance(spec, dict) else None
        if message.get("kind") == "interest" and type(message.get("message")) is int:
            self._deferred.append((message.get("id"), None, message["message"],
                                   self._argument(message.get("argument"))))
        elif service is not None:
            self._deferred.append((message.get("id"), service))
        if self.link.depth <= 1:
            self._deliver_deferred()
        return NO_REPLY

    def _deliver_deferred(self) -> None:
        if self._delivering:
            return
        if not self._deferred:
            return
        self._delivering = True
        try:
            while self._deferred:
                number, *rest = self._deferred.pop(0)
                self.kernel.deliver(number, *rest)
        finally:
            self._delivering = False
        self._send_changes()

    def _send_changes(self) -> None:
        """What handlers changed outside any call (properties, nubs, requests) goes to the
        kernel at once, as a dext's ``SetProperties`` and ``RegisterService`` do, not with
        whatever call comes next."""
        others = [[obj, *self.table.changed_properties(obj)] for obj in self.table.objects]
        others = [entry for entry in others if entry[1] or entry[2]]
        published, requests = self.kernel.take()
        message: dict[str, Any] = {"op": "changed"}
        for key, value in (("others", others), ("published", published),
                           ("requests", requests)):
            if value:
                message[key] = value
        if len(message) > 1:
            self.link.notify(message)

    def op_ping(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "result": message.get("value")}

    def op_create(self, message: dict[str, Any]) -> dict[str, Any]:
        package = message.get("package")
        if isinstance(package, str) and package and package not in self.packages:
            # Another dext sharing this process (IOUserServerOneProcess): load its classes.
            # Its import is the driver's code: what it raises is this process's crash.
            self.packages.add(package)
            sys.path[:0] = [p for p in message.get("paths") or () if isinstance(p, str)]
            for cls_name, found in find_classes(package).items():
                self.classes.setdefault(cls_name, found)
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
        return self._reply(obj, result, chain=list(service.class_chain),
                           informed=_overrides_notifications(cls))

    def op_call(self, message: dict[str, Any]) -> dict[str, Any]:
        obj = int(message["obj"])
        service = self.table.objects.get(obj)
        if service is None:
            return {"ok": False, "error": f"no driver object {obj}"}
        method = str(message["method"])
        args = list(message.get("args") or [])
        provider = self._provider(message.get("provider"))
        if method in ("probe", "start", "stop", "will_terminate", "did_terminate"):
            if provider is not None and method in ("probe", "start"):
                link_provider(service, provider)  # attached before probe, as in IOKit
            args.insert(0, provider)
        elif method == "message":
            return self._message(obj, service, provider, args)
        elif method == "set_power_state":
            args.append(service)  # SetPowerState(ordinal, whatDevice): the service itself
        elif method in ("power_state_will_change_to", "power_state_did_change_to"):
            args.append(provider)  # the device whose power changes
        elif method == "new_user_client":
            return self._new_user_client(obj, service, int(message["uc"]), args)
        elif method == "external_method" and isinstance(service, IOUserClient):
            return self._reply(obj, self._external_method(obj, service, args))
        elif method == "client_memory_for_type" and isinstance(service, IOUserClient):
            return self._client_memory(obj, service, args)
        elif method not in ("free", "client_close", "client_died"):
            return {"ok": False, "error": f"method {method!r} does not cross"}
        result = getattr(service, method)(*args)
        if method == "free":
            self.table.remove(obj)
            self.memory.release(obj)
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

    def _message(self, obj: int, service: IOService, provider: IOService | None,
                 args: list[Any]) -> dict[str, Any]:
        """``message`` with its argument: a registry value as sent, a kernel object as its
        proxy; a system power question's notification is rebuilt from its fields and the µs
        the driver asks for go back with its result."""
        message_type, sent = int(args[0]), args[1] if len(args) > 1 else None
        fields = sent.get("power_notice") if isinstance(sent, dict) else None
        if not isinstance(fields, dict):
            argument = self._argument(sent)
            return self._reply(obj, service.message(message_type, provider, argument))
        notice = IOPowerStateChangeNotification(**fields)
        result = service.message(message_type, provider, notice)
        return self._reply(obj, {"result": result, "return_value": notice.return_value})

    def _argument(self, sent: Any) -> Any:
        """A message argument as it crossed: a registry value, or a kernel object's proxy."""
        if isinstance(sent, dict) and isinstance(sent.get("object"), dict):
            return self.remote.make(sent["object"])
        return sent.get("value") if isinstance(sent, dict) else None

    def _external_method(self, obj: int, client: IOUserClient, args: list[Any]
                         ) -> dict[str, Any]:
        """``ExternalMethod`` on ``client`` with the caller's arguments; what it wrote back.
        An async call's reference completes through the kernel (``AsyncCompletion``)."""
        spec = args[5] if len(args) > 5 else None
        reference = None
        if isinstance(spec, list) and len(spec) == 2:
            token, words = spec
            reference = OSAsyncReference64(tuple(int(w) for w in words),
                                           partial(self._complete, obj, int(token)))
        arguments = _external_method_args(client, args, reference)
        ret = client.external_method(arguments.selector, arguments)
        return {"ret": int(ret), "scalars": [int(v) for v in arguments.scalar_output],
                "structure": bytes(arguments.structure_output)}

    def _complete(self, obj: int, token: int, result: int, values: tuple[int, ...]) -> int:
        """``send_async_result`` on a reference the kernel lent: a one-way message (from any
        thread); ``MACH_SEND_INVALID_DEST`` once the client is gone or the kernel is, as
        ``sendAsyncResult64``'s Mach send says it."""
        if obj not in self.table.objects:
            return MACH_SEND_INVALID_DEST
        sent = self.link.notify({"op": "async", "ref": token, "result": result,
                                 "args": list(values)})
        return IOReturn.SUCCESS if sent else MACH_SEND_INVALID_DEST

    def _client_memory(self, obj: int, client: IOUserClient, args: list[Any]
                       ) -> dict[str, Any]:
        """``CopyClientMemoryForType``: the client's memory of that type, its descriptor
        passed to the kernel with the reply (``SCM_RIGHTS``), or the IOReturn."""
        made = client.client_memory_for_type(int(args[0]))
        shared = self.memory.share(obj, made)
        if isinstance(shared, int):
            return self._reply(obj, shared)
        fd, length = shared
        reply = self._reply(obj, {"memory": length})
        reply["fds"] = (fd,)
        return reply

    def _provider(self, spec: Any) -> IOService | None:
        if not isinstance(spec, dict):
            return None
        if "local" in spec:  # one of this process's own objects (a user client's driver)
            return self.table.objects.get(int(spec["local"]))
        return self.remote.make(spec)  # a kernel object: its proxy

    def _reply(self, obj: int, result: Any, **extra: Any) -> dict[str, Any]:
        """The call's result and what the call changed: the object's properties, those of
        the process's other objects (a user client calling into its driver), the nubs it
        published and what it asked of the kernel."""
        if not isinstance(result, _SCALARS) and type(result) is not dict:
            result = f"<{type(result).__name__}>"
        reply: dict[str, Any] = {"ok": True, "result": result, **extra}
        # Only what happened travels: most calls change nothing but their result.
        table = self.table
        changed, removed = table.changed_properties(obj)
        if changed:
            reply["props"] = changed
        if removed:
            reply["removed"] = removed
        if len(table.objects) > 1:
            others = [[other, *table.changed_properties(other)]
                      for other in table.objects if other != obj]
            others = [entry for entry in others if entry[1] or entry[2]]
            if others:
                reply["others"] = others
        if self.kernel.published or self.kernel.requests:
            published, requests = self.kernel.take()
            if published:
                reply["published"] = published
            if requests:
                reply["requests"] = requests
        return reply


def _overrides_notifications(cls: type) -> bool:
    """Does the driver class override ``power_state_will_change_to`` or
    ``power_state_did_change_to`` (what makes IOKit add a driver to the interested ones)?"""
    return (getattr(cls, "power_state_will_change_to", None)
            is not IOService.power_state_will_change_to
            or getattr(cls, "power_state_did_change_to", None)
            is not IOService.power_state_did_change_to)


def _external_method_args(client: IOUserClient, args: list[Any],
                          reference: OSAsyncReference64 | None) -> IOExternalMethodArguments:
    selector, scalars, structure, scalar_count, structure_size = args[:5]
    return IOExternalMethodArguments(
        int(selector), tuple(int(v) for v in scalars), bytes(structure), int(scalar_count),
        int(structure_size), reference, task=client.owning_task)


_USAGE = ("usage: python -m iokit_host.dext.server --fd N --life-fd N --name NAME "
          "[--package PACKAGE]")


def _arguments(argv: list[str]) -> dict[str, str]:
    """The options the kernel passes (``--option value`` or ``--option=value``).

    Read by hand, not with argparse: this runs in every driver process before it checks in,
    and argparse (with gettext and shutil, which it pulls in) is a large share of that.

    :raises ValueError: an unknown option, one without a value, or a required one missing.
    """
    known = {"--fd", "--life-fd", "--name", "--package"}
    found: dict[str, str] = {"--package": ""}
    rest = iter(argv)
    for word in rest:
        option, equals, value = word.partition("=")
        if option not in known:
            raise ValueError(f"unrecognized argument: {word}")
        if not equals:
            following = next(rest, None)
            if following is None:
                raise ValueError(f"argument {option}: expected one argument")
            value = following
        found[option] = value
    missing = sorted(known - {"--package"} - found.keys())
    if missing:
        raise ValueError(f"the following arguments are required: {', '.join(missing)}")
    for option in ("--fd", "--life-fd"):
        try:
            int(found[option])
        except ValueError:
            raise ValueError(f"argument {option}: invalid int value: {found[option]!r}") from None
    return found


def main(argv: list[str] | None = None, *,
         checked_in: Callable[[], object] | None = None) -> int:
    """Serve the kernel's calls until it says exit or is gone.

    :param checked_in: called once the kernel has the check-in (work the kernel need not wait
        for: :mod:`~iokit_host.dext.driver_process` keeps the compiled code then).
    """
    try:
        args = _arguments(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        print(f"{_USAGE}\niokit_host.dext.server: error: {error}", file=sys.stderr)
        return 2
    become_subreaper()  # before the driver's code runs: its orphans stay in this tree
    _watch_life(int(args["--life-fd"]))
    channel = Channel(socket.socket(fileno=int(args["--fd"])))
    package = args["--package"] or None
    server = DriverServer(channel, package)  # imports the driver: may crash
    channel.send({"op": "checkin", "token": os.environ.get("IOKIT_DEXT_TOKEN", ""),
                  "pid": os.getpid(), "name": args["--name"], "classes": sorted(server.classes)})
    if checked_in is not None:
        checked_in()
    try:
        server.serve()
    finally:  # the kernel said exit, or is gone: this process's buffers go with it
        remove_memory_directory()
        kill_descendants(os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
