"""What a driver process asks of the kernel on its own: IOUserServer's ``kernelDispatch``.

A dext calls into the kernel (``ChangePowerState``, ``SetPowerState``'s acknowledgement,
``AsyncCompletion``) through send rights the kernel dispatches to its ``*_Impl`` methods. Here
a process's ``kcall`` messages and one-way completions arrive during any call the kernel makes
into it, or while the kernel is idle (:meth:`~iokit_host.dext.manager.DextManager.poll`), and
:class:`Upcalls` serves them: a power request goes to the kernel's power manager on the
kernel-side proxy of the object it names, exactly as an in-process driver's request does (work
asked for inside a driver call runs after it); a registry question about a kernel object it
was shown is answered from that object (:mod:`.kobjects`), a notification or interest it
asks for is installed (:mod:`.dextnotify`), ``messageClients`` on its own object is done on
the proxy; a completion goes to the program's port
(:mod:`.completions`). Everything a process sends is checked first; what does not read is
reported (``dext-bad-request``) and answered ``kIOReturnBadArgument``.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iokit_sdk.plain import plain_value
from iokit_sdk.power import IOPMPowerState
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService
from iokit_sdk.values import PropertyTypeError, check_value

from iokit_host.dext.completions import Completions
from iokit_host.dext.dextnotify import ProcessNotifiers
from iokit_host.dext.driverside import POWER_METHODS
from iokit_host.dext.kobjects import KernelObjects, Refused, answer
from iokit_host.dext.memory import MemoryGrants
from iokit_host.errors import Diagnostic, Severity, quoted

if TYPE_CHECKING:
    from iokit_host.dext.process import DriverProcess
    from iokit_host.dext.records import ServerRecord
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["Upcalls"]

_FIELDS = frozenset(f.name for f in dataclasses.fields(IOPMPowerState))
_MAX_ARGS = 4
_MAX_STATES = 64


class _Refused(Exception):
    """A request that does not read."""


class Upcalls:
    """One kernel's handling of its driver processes' own messages."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self.completions = Completions(kernel)
        self.memory = MemoryGrants(kernel)
        self.notifiers = ProcessNotifiers(kernel)
        #: Each live process's numbers for the kernel objects it was shown (:mod:`.kobjects`).
        self._objects: weakref.WeakKeyDictionary[DriverProcess, KernelObjects] = \
            weakref.WeakKeyDictionary()
        self._dropped: set[tuple[str, str]] = set()
        self._last: tuple[DriverProcess, KernelObjects] | None = None

    def event(self, record: ServerRecord, message: Mapping[str, Any]) -> None:
        """One message ``record``'s process sent on its own."""
        op = message.get("op")
        if op == "async":
            self.completions.complete(record.name, message)
        elif op == "kcall":
            result = self._kcall(record, message)
            if record.process is not None:
                record.process.answer(message.get("seq"), result)
        else:
            self._refuse(record, f"sent a message the kernel does not know ({quoted(op)})")

    def gone(self, record: ServerRecord) -> None:
        """``record``'s process died: its programs' waits end, its memory is released, its
        notifications removed."""
        self.completions.abort(record.name)
        self.memory.release_server(record.name)
        self.notifiers.gone(record.name)
        self._last = None

    def object_spec(self, record: ServerRecord, service: IOService) -> dict[str, Any] | None:
        """``service`` as it crosses to ``record``'s process (a number, described the first
        time); None when no process runs."""
        process = record.process
        if process is None:
            return None
        last = self._last  # _objects_of's usual case, written out: a provider crosses each call
        objects = last[1] if last is not None and last[0] is process else \
            self._objects_of(process)
        return objects.spec(self.kernel.registry, service)

    def message_argument(self, record: ServerRecord | None, argument: Any
                         ) -> dict[str, Any] | None:
        """``message``'s argument as it crosses: a kernel object as its spec, a registry
        value as itself; anything else does not cross (reported once per type and dext) and
        the driver gets None."""
        if argument is None or record is None:
            return None
        if isinstance(argument, IOService):
            spec = self.object_spec(record, argument)
            return {"object": spec} if spec is not None else None
        try:
            # Copied as the registry keeps a value: an int subclass's methods are the
            # sending driver's code, which the channel's packing would otherwise run here.
            argument = plain_value(argument, "argument")
        except PropertyTypeError as error:
            seen = (record.bundle_id, type(argument).__name__)
            if seen not in self._dropped:
                self._dropped.add(seen)
                self.kernel.report(Diagnostic(
                    "dext-message-argument-dropped", f"a message argument for driver process "
                    f"{record.name} does not cross: {error}", subject=record.bundle_id,
                    severity=Severity.WARNING,
                    hint="a message argument crosses when it is a service or a registry "
                         "value (number, string, data, boolean, array, dictionary); the "
                         "driver gets None"))
            return None
        return {"value": argument}

    def _objects_of(self, process: DriverProcess) -> KernelObjects:
        last = self._last
        if last is not None and last[0] is process:  # the usual case: the same process again
            return last[1]
        objects = self._objects.get(process)
        if objects is None:
            objects = self._objects[process] = KernelObjects()
        self._last = (process, objects)
        return objects

    def client_gone(self, client: object) -> None:
        self.completions.forget_client(client)
        self.memory.release_client(client)

    # -- power requests ----------------------------------------------------------------------------
    def _kcall(self, record: ServerRecord, message: Mapping[str, Any]) -> Any:
        if message.get("kind") == "registry":
            return self._registry(record, message)
        if message.get("kind") != "power":
            return self._refuse(record, f"asked for {quoted(message.get('kind'))}, which does not "
                                        "cross")
        method, args = message.get("method"), message.get("args")
        if method not in POWER_METHODS or not isinstance(args, list) or len(args) > _MAX_ARGS:
            return self._refuse(record, f"asked for power request {quoted(method)} with arguments "
                                        "that do not read")
        assert isinstance(method, str)
        try:
            decoded = [self._decode(record, value) for value in args]
            proxies = [value for value in decoded if isinstance(value, IOService)]
            if not proxies:
                raise _Refused("names no object of its own")
            decoded = [_provider_of(proxies[0]) if value is _PROVIDER else value
                       for value in decoded]
            result = getattr(self.kernel.power, method)(*decoded)
        except _Refused as error:
            return self._refuse(record, f"asked for {method}: {error}")
        except (TypeError, ValueError, OverflowError) as error:
            return self._refuse(record, f"asked for {method} with arguments it cannot take "
                                        f"({type(error).__name__}: {error})")
        return result if isinstance(result, (bool, int)) else 0

    # -- registry questions and notifications ------------------------------------------------
    def _registry(self, record: ServerRecord, message: Mapping[str, Any]) -> Any:
        process = record.process
        if process is None:
            return IOReturn.NOT_ATTACHED
        method = message.get("method")
        if method == "add_notification":
            refused = self.notifiers.add(record.name, process, self._objects_of(process),
                                         message)
            if refused:
                self._refuse(record, f"asked for a notification the kernel refuses: "
                                     f"{refused['refused']}")
            return refused
        if method == "add_interest":
            target = self._target(record, message.get("target"))
            if target is None:
                return self._refused(record, "interest in an object it was not given")
            refused = self.notifiers.add_interest(
                record.name, process, message.get("id"), target,
                lambda argument: self.message_argument(record, argument))
            if refused:
                self._refuse(record, f"asked for interest the kernel refuses: "
                                     f"{refused['refused']}")
            return refused
        if method == "message_clients":
            return self._message_clients(record, message)
        if method == "remove_notification":
            self.notifiers.remove(record.name, message.get("id"))
            return {}
        try:
            return answer(self._objects_of(process), self.kernel.registry, message)
        except Refused as error:
            return self._refuse(record, str(error))

    def _target(self, record: ServerRecord, spec: Any) -> IOService | None:
        """The live kernel object ``spec`` names: one of the process's own (``obj``) or one
        it was given (``kobj``)."""
        if not isinstance(spec, dict) or record.process is None:
            return None
        if "obj" in spec:
            found: IOService | None = record.proxies.get(spec["obj"]) \
                if type(spec["obj"]) is int else None
        else:
            found = self._objects_of(record.process).get(spec.get("kobj"))
        return found if found is not None and not found.is_inactive() else None

    def _message_clients(self, record: ServerRecord, message: Mapping[str, Any]) -> Any:
        """``messageClients`` on the process's own object's proxy."""
        target = self._target(record, {"obj": message.get("obj")})
        message_type, sent = message.get("message"), message.get("argument")
        if target is None or type(message_type) is not int \
                or not 0 <= message_type <= 0xFFFFFFFF:
            return self._refused(record, "messageClients on an object or with a message "
                                         "that does not read")
        argument: Any = None
        if isinstance(sent, dict) and "kobj" in sent:
            argument = self._target(record, {"kobj": sent["kobj"]})
        elif isinstance(sent, dict):
            argument = sent.get("value")
            try:
                check_value(argument, "argument")
            except PropertyTypeError:
                argument = None  # what does not read as a registry value does not go on
        self.kernel.message_clients(target, message_type, argument)
        return {}

    def _refused(self, record: ServerRecord, problem: str) -> dict[str, Any]:
        self._refuse(record, f"asked for {problem}")
        return {"refused": problem}

    def _decode(self, record: ServerRecord, value: Any) -> Any:
        if isinstance(value, bool | int) or value is None:
            return value
        if isinstance(value, dict) and "obj" in value:
            proxy = record.proxies.get(value["obj"]) if type(value["obj"]) is int else None
            if proxy is None or proxy.is_inactive():
                raise _Refused(f"object {quoted(value['obj'])} is not one of the process's live "
                               "objects")
            return proxy
        if isinstance(value, dict) and "kobj" in value and record.process is not None:
            found = self._objects_of(record.process).get(value["kobj"])
            if found is None or found.is_inactive():
                raise _Refused(f"kernel object {quoted(value['kobj'])} is not one it was given")
            return found
        if isinstance(value, dict) and value.get("provider") is True:
            return _PROVIDER
        if isinstance(value, dict) and isinstance(value.get("states"), list):
            return _states(value["states"])
        raise _Refused(f"an argument of type {type(value).__name__} does not cross")

    def _refuse(self, record: ServerRecord, problem: str) -> int:
        self.kernel.report(Diagnostic(
            "dext-bad-request", f"driver process {record.name} {problem}; answered "
            "kIOReturnBadArgument", subject=record.bundle_id, severity=Severity.WARNING,
            hint="a driver process asks the kernel only through the SDK's IOService methods"))
        return IOReturn.BAD_ARGUMENT


_PROVIDER = object()


def _provider_of(proxy: IOService) -> IOService:
    provider = proxy.get_provider()
    if provider is None:
        raise _Refused("its object has no provider")
    return provider


def _states(values: list[Any]) -> list[IOPMPowerState]:
    """A power-state table from its fields (the power manager checks the values)."""
    if len(values) > _MAX_STATES:
        raise _Refused(f"a power-state table of {len(values)} states")
    states = []
    for fields in values:
        if not isinstance(fields, dict) or not set(fields) <= _FIELDS \
                or not all(type(v) is int for v in fields.values()):
            raise _Refused("a power state that is not IOPMPowerState's fields")
        states.append(IOPMPowerState(**fields))
    return states
