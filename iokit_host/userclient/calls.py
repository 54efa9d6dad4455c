"""One user-client call (``is_io_connect_method``, then ``externalMethod``).

The kernel checks what travels before the driver sees it: at most 16 scalars in and out
(``io_scalar_inband64_t[16]``), an output structure size that is a size or
``kIOConnectMethodVarOutputSize``, an async reference of at most ``kOSAsyncRef64Count`` words;
each failure is ``kIOReturnBadArgument``. The driver's method (the ``iokit_external_method``
hook) then runs with an :class:`~iokit_sdk.userclient.IOExternalMethodArguments`, and what it
wrote is checked on the way out: scalars are numbers, the structure fits the caller's
capacity. A driver that raises is reported and the caller gets ``kIOReturnInternalError``; the
kernel and every other client go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import (
    MAX_SCALARS,
    IOExternalMethodArguments,
    IOUserClient,
    OSAsyncReference64,
    OwningTask,
    kIOConnectMethodVarOutputSize,
    kOSAsyncRef64Count,
)

from iokit_host.errors import Diagnostic
from iokit_host.kernel.driver_calls import DriverFault, service_name

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["MAX_VARIABLE_OUTPUT", "CallRequest", "CallResult", "call_method"]

#: The largest variable-size output structure returned (``structureVariableOutputData``).
MAX_VARIABLE_OUTPUT = 16 << 20
_U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What a caller sent (``IOConnectCallMethod``'s arguments)."""

    selector: int
    scalars: tuple[int, ...] = ()
    structure: bytes = b""
    scalar_output_count: int = 0
    structure_output_size: int = 0
    async_reference: OSAsyncReference64 | None = None


@dataclass(frozen=True, slots=True)
class CallResult:
    ret: int
    scalars: tuple[int, ...] = ()
    structure: bytes = b""


def transport_error(request: CallRequest) -> int:
    """The IOReturn for what cannot travel (MIG's limits), or success."""
    if len(request.scalars) > MAX_SCALARS or not 0 <= request.scalar_output_count <= MAX_SCALARS:
        return IOReturn.BAD_ARGUMENT
    size = request.structure_output_size
    if size != kIOConnectMethodVarOutputSize and not 0 <= size <= 0xFFFFFFFF:
        return IOReturn.BAD_ARGUMENT
    reference = request.async_reference
    if reference is not None and not 1 <= len(reference.words) <= kOSAsyncRef64Count:
        return IOReturn.BAD_ARGUMENT
    return IOReturn.SUCCESS


def call_method(kernel: WorkLoop, client: IOUserClient, task: OwningTask,
                request: CallRequest) -> CallResult:
    """Run ``request`` on ``client``: the transport checks, the method, the output checks."""
    refused = transport_error(request)
    if refused != IOReturn.SUCCESS:
        return CallResult(refused)
    if client.is_inactive():
        return CallResult(IOReturn.NOT_ATTACHED)
    arguments = IOExternalMethodArguments(
        request.selector, request.scalars, request.structure, request.scalar_output_count,
        request.structure_output_size, request.async_reference, task)
    ret = kernel.driver_calls.call(kernel.hook.iokit_external_method, service=client,
                                   selector=request.selector, arguments=arguments)
    if isinstance(ret, DriverFault):
        _report(kernel, client, ret.reference("user-client-method-raised"),
                ret.reason(f"external_method {request.selector} of {service_name(client)}"))
        return CallResult(IOReturn.INTERNAL_ERROR)
    if isinstance(ret, bool) or not isinstance(ret, int):
        if ret is None:
            return CallResult(IOReturn.UNSUPPORTED)
        _report(kernel, client, "user-client-method-invalid",
                f"external_method {request.selector} of {service_name(client)} returned "
                f"{ret!r}, not an IOReturn code")
        return CallResult(IOReturn.INTERNAL_ERROR)
    if ret != IOReturn.SUCCESS:
        return CallResult(ret & 0xFFFFFFFF)
    return _outputs(kernel, client, request, arguments)


def _outputs(kernel: WorkLoop, client: IOUserClient, request: CallRequest,
             arguments: IOExternalMethodArguments) -> CallResult:
    scalars = list(arguments.scalar_output)[:request.scalar_output_count]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in scalars):
        _report(kernel, client, "user-client-output-invalid",
                f"method {request.selector} of {service_name(client)} wrote a scalar output "
                "that is not a number")
        return CallResult(IOReturn.INTERNAL_ERROR)
    structure = arguments.structure_output
    if not isinstance(structure, (bytes, bytearray, memoryview)):
        _report(kernel, client, "user-client-output-invalid",
                f"method {request.selector} of {service_name(client)} wrote a structure "
                f"output of type {type(structure).__name__}, not bytes")
        return CallResult(IOReturn.INTERNAL_ERROR)
    data = bytes(structure)
    capacity = request.structure_output_size
    limit = MAX_VARIABLE_OUTPUT if capacity == kIOConnectMethodVarOutputSize else capacity
    if len(data) > limit:
        return CallResult(IOReturn.NO_SPACE)
    return CallResult(IOReturn.SUCCESS, tuple(v & _U64 for v in scalars), data)


def _report(kernel: WorkLoop, client: IOUserClient, reference: str, message: str) -> None:
    kernel.report(Diagnostic(reference, message, subject=client.iokit_class_name,
                             hint="the caller got kIOReturnInternalError; the kernel and "
                                  "other clients go on"))
