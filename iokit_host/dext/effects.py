"""What a driver process did during a call, applied in the kernel: property changes, nubs
published, requests (terminate, registerService, publishResource).

In DriverKit a dext's ``SetProperties``, ``RegisterService`` and ``Terminate`` are RPCs into
``IOUserServer`` that act on the kernel's objects; here they come back with the reply to the
call they happened in, and :class:`ReplyEffects` applies them to the registry. A part that does
not read is reported (``dext-bad-property``) and dropped; the rest is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iokit_host.dext.proxy import DextObject, nub_class
from iokit_host.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from iokit_host.dext.records import ServerRecord
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["REPLY_PARTS", "ReplyEffects"]

#: The parts of a reply that say what the driver did.
REPLY_PARTS = frozenset(("props", "removed", "others", "published", "requests"))


class ReplyEffects:
    """Applies what a driver process's reply carries to one kernel's registry."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel

    def apply(self, record: ServerRecord, proxy: DextObject, reply: Mapping[str, Any]
               ) -> None:
        """What the driver did during the call: properties, nubs, requests. A part that does
        not read is reported and dropped; the rest is applied."""
        if REPLY_PARTS.isdisjoint(reply):
            return
        for part, apply in (("props", self._apply_props), ("removed", self._apply_removed),
                            ("others", self._apply_others),
                            ("published", self._apply_published),
                            ("requests", self._apply_requests)):
            value = reply.get(part)
            if value is None:
                continue
            try:
                apply(record, proxy, value)
            except (TypeError, ValueError, AttributeError, KeyError) as error:
                self._report_value(record, part, error)

    def _apply_props(self, record: ServerRecord, proxy: DextObject, props: Any) -> None:
        for key, value in dict(props).items():
            try:
                proxy.set_property(str(key), value)
            except (TypeError, ValueError) as error:
                self._report_value(record, str(key), error)

    def _apply_removed(self, record: ServerRecord, proxy: DextObject, keys_: Any) -> None:
        for key in list(keys_):
            if isinstance(key, str):
                proxy.remove_property(key)

    def _apply_others(self, record: ServerRecord, proxy: DextObject, others: Any) -> None:
        for obj, props, removed in list(others):
            other = record.proxies.get(_int(obj))
            if other is not None and not other.is_inactive():
                self._apply_props(record, other, props)
                self._apply_removed(record, other, removed)

    def _apply_published(self, record: ServerRecord, proxy: DextObject, nubs: Any) -> None:
        for spec in list(nubs):
            try:
                self._publish_nub(record, dict(spec))
            except (TypeError, ValueError, AttributeError, KeyError) as error:
                self._report_value(record, "published nub", error)

    def _apply_requests(self, record: ServerRecord, proxy: DextObject, requests: Any
                        ) -> None:
        for request in list(requests):
            if isinstance(request, dict):
                self._request(record, request)

    def _publish_nub(self, record: ServerRecord, spec: Mapping[str, Any]) -> None:
        owner = record.proxies.get(_int(spec.get("provider")))
        if owner is None or owner.is_inactive():
            return
        chain = [c for c in spec.get("chain") or () if isinstance(c, str)] or ["IOService"]
        name, location = spec.get("name"), spec.get("location")
        nub = nub_class(chain)(dict(spec.get("props") or {}),
                               name=name if isinstance(name, str) else None,
                               location=location if isinstance(location, str) else None)
        if nub.attach(owner):
            nub.register_service()

    def _request(self, record: ServerRecord, request: Mapping[str, Any]) -> None:
        if request.get("op") == "terminate":
            target = record.proxies.get(_int(request.get("obj")))
            if target is not None and not target.is_inactive():
                self.kernel.terminate(target, _int(request.get("options")))
        elif request.get("op") == "register_service":
            target = record.proxies.get(_int(request.get("obj")))
            if target is not None and not target.is_inactive():
                self.kernel.register_service(target)
        elif request.get("op") == "publish_resource" and isinstance(request.get("key"), str):
            self.kernel.publish_resource(request["key"], request.get("value"))

    def _report_value(self, record: ServerRecord, key: str, error: Exception) -> None:
        self.kernel.report(Diagnostic(
            "dext-bad-property", f"driver process {record.name} sent {key} the kernel cannot "
            f"hold: {type(error).__name__}: {error}", subject=record.bundle_id, key=key, severity=Severity.WARNING,
            hint="registry values are numbers, strings, data, booleans, arrays and "
                 "dictionaries"))


def _int(value: Any) -> int:
    """An object number or option word from a reply: an int, else 0 (names nothing)."""
    return value if type(value) is int else 0
