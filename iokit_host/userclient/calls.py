"""One user-client call (``is_io_connect_method``, then ``externalMethod``).

The kernel checks what travels before the driver sees it: at most 16 scalars in and out
(``io_scalar_inband64_t[16]``), an output structure size that is a size or
``kIOConnectMethodVarOutputSize``, an async reference of at most ``kOSAsyncRef64Count`` words;
each failure is ``kIOReturnBadArgument``. The driver's method (the ``iokit_external_method``
hook) then runs with an :class:`~iokit_sdk.userclient.IOExternalMethodArguments`, and what it
wrote is checked on the way out: scalars are numbers, the structure fits the caller's
capacity, a variable-size call (``kIOConnectMethodVarOutputSize``) that succeeds without
setting an output is ``kIOReturnUnderrun``. A driver that raises is reported and the caller
gets ``kIOReturnInternalError``; the kernel and every other client go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iokit_sdk.returns import IOReturn
from iokit_sdk.service import ServiceState
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
from iokit_host.kernel.driver_calls import DriverFault, described
from iokit_host.kernel.driver_results import plain_int, short_repr

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["MAX_VARIABLE_OUTPUT", "CallRequest", "CallResult", "call_method", "run_method",
           "transport_error"]

#: The largest variable-size output structure returned (``structureVariableOutputData``).
MAX_VARIABLE_OUTPUT = 16 << 20
_U64 = (1 << 64) - 1
#: The most negative number a C int32_t (an IOReturn) holds: a method may return a code as
#: C's int, -536870206 for kIOReturnBadArgument.
_INT32_MIN = -(1 << 31)
#: Scalars wrap as a uint64_t does (-1 is 0xFFFFFFFFFFFFFFFF, a sum of two past 2**64 wraps),
#: as far as C's arithmetic on 64-bit operands reaches (a product: 128 bits); a number wider
#: than that is no result of C arithmetic (10**100 read as its low bits was 0), reported.
_WRAPS = 1 << 128
_SUCCESS = int(IOReturn.SUCCESS)
_VAR_OUTPUT = kIOConnectMethodVarOutputSize
_INACTIVE = ServiceState.INACTIVE


class _NoVariableOutput(bytes):
    """A variable-size call's output before the method sets one (``structureVariableOutputData``
    still NULL): empty bytes a method can add to, told apart from an empty output it set."""


_NO_VARIABLE_OUTPUT = _NoVariableOutput()


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
    ret, scalars, data = run_method(kernel, client, task, request.selector, request.scalars,
                                    request.structure, request.scalar_output_count,
                                    request.structure_output_size, request.async_reference)
    return CallResult(ret, tuple(scalars), data)


def run_method(kernel: WorkLoop, client: IOUserClient, task: OwningTask, selector: int,
               scalars: tuple[int, ...], structure: bytes, scalar_output_count: int,
               structure_output_size: int, async_reference: OSAsyncReference64 | None = None,
               ) -> tuple[int, list[int], bytes]:
    """The method and the output checks of a call that passed :func:`transport_error`:
    (IOReturn, output scalars, output structure). The front end's path for every call,
    kept free of per-call objects beyond the method's arguments, and of Python calls beyond
    the method's: between two processes each one costs several times its work."""
    if client._state & _INACTIVE:  # is_inactive(), inline
        # Terminated (with its provider, or closed): terminatePhase1's destroyUserReferences
        # emptied its port, so is_io_connect_method's CHECK finds no IOUserClient there
        # (xnu-8792 to xnu-11417).
        return IOReturn.BAD_ARGUMENT, [], b""
    arguments = IOExternalMethodArguments(
        selector, scalars, structure, scalar_output_count, structure_output_size,
        async_reference, task, [0] * scalar_output_count,
        _NO_VARIABLE_OUTPUT if structure_output_size == _VAR_OUTPUT else b"")
    if kernel.plugin_manager.builtin_alone("iokit_external_method"):
        # What the hook call would run, and all it would do (no other plugin, no monitor).
        ret = kernel.driver_calls.call(client.external_method, selector, arguments)
    else:
        ret = kernel.driver_calls.call_hook(kernel.hook.iokit_external_method,
                                            {"service": client, "selector": selector,
                                             "arguments": arguments})
    if type(ret) is not int:  # an IOReturn member, or not a code at all
        # The driver's value: an int subclass's own methods never run (IOReturn, sealed
        # with the SDK and without subclasses, keeps its value where plain_int reads it).
        code = ret._value_ if type(ret) is IOReturn else plain_int(ret)
        if code is None:
            return _not_a_code(kernel, client, selector, ret), [], b""
        ret = code
    if ret:
        if not _INT32_MIN <= ret <= 0xFFFFFFFF:  # no IOReturn: its low bits may even be 0
            return _not_a_code(kernel, client, selector, ret), [], b""
        return ret & 0xFFFFFFFF, [], b""
    # The outputs of the common call (a list of ints, bytes within the capacity) are taken
    # here; anything else is checked by _outputs.
    written, structure = arguments.scalar_output, arguments.structure_output
    if type(written) is list and type(structure) is bytes \
            and arguments.scalar_output_count == scalar_output_count \
            and arguments.structure_output_size == structure_output_size and (
            len(structure) <= structure_output_size
            or structure_output_size == kIOConnectMethodVarOutputSize):
        outputs: list[int] = []
        for value in written[:scalar_output_count]:
            if type(value) is not int or not -_WRAPS < value < _WRAPS:
                break  # _outputs says what it is
            outputs.append(value & _U64)
        else:
            if len(structure) <= MAX_VARIABLE_OUTPUT:
                return _SUCCESS, outputs, structure
    return _outputs(kernel, client, selector, scalar_output_count, structure_output_size,
                    arguments)


def _not_a_code(kernel: WorkLoop, client: IOUserClient, selector: int, ret: object) -> int:
    """The IOReturn for a method that gave no IOReturn code: it raised, hung, or returned
    something else (None: the method is not implemented; a number past 32 bits, which no
    ``IOReturn`` is, whatever its low bits)."""
    if isinstance(ret, DriverFault):
        _report(kernel, client, ret.reference("user-client-method-raised"),
                ret.reason(f"external_method {selector} of {described(client)}"))
        return IOReturn.INTERNAL_ERROR
    if ret is None:
        return IOReturn.UNSUPPORTED
    _report(kernel, client, "user-client-method-invalid",
            f"external_method {selector} of {described(client)} returned "
            f"{short_repr(ret)}, not an IOReturn code")
    return IOReturn.INTERNAL_ERROR


def _outputs(kernel: WorkLoop, client: IOUserClient, selector: int, scalar_output_count: int,
             structure_output_size: int, arguments: IOExternalMethodArguments,
             ) -> tuple[int, list[int], bytes]:
    """The outputs of a call that wrote something else than a list of ints and bytes, or
    lowered its counts: read through the built-in types' own methods, so none of the
    driver's code (a subclass's ``__iter__``, ``__int__`` or ``__bytes__``) runs outside the
    guarded call. As ``is_io_connect_method`` returns ``scalarOutputCount`` and
    ``structureOutputSize`` as they are after the call, a method may lower them to what it
    wrote (never past the caller's capacity)."""
    count = _lowered(arguments.scalar_output_count, scalar_output_count)
    size = (_lowered(arguments.structure_output_size, structure_output_size)
            if structure_output_size != kIOConnectMethodVarOutputSize else MAX_VARIABLE_OUTPUT)
    if count is None or size is None:
        _report(kernel, client, "user-client-output-invalid",
                f"method {selector} of {described(client)} set its output count to "
                f"{short_repr(arguments.scalar_output_count)} and size to "
                f"{short_repr(arguments.structure_output_size)}, past the caller's "
                f"{scalar_output_count} and {structure_output_size}")
        return IOReturn.INTERNAL_ERROR, [], b""
    scalars = _scalars(arguments.scalar_output, count)
    if isinstance(scalars, str):
        _report(kernel, client, "user-client-output-invalid",
                f"method {selector} of {described(client)} wrote {scalars} as scalar "
                "output, not a 64-bit number")
        return IOReturn.INTERNAL_ERROR, [], b""
    if arguments.structure_output is _NO_VARIABLE_OUTPUT:
        # is_io_connect_method_var_output: a method that succeeds without an OSData (or
        # OSSerialize) in structureVariableOutputData (xnu-8792 to xnu-11417).
        return IOReturn.UNDERRUN, [], b""
    structure = _bytes(arguments.structure_output)
    if structure is None:
        _report(kernel, client, "user-client-output-invalid",
                f"method {selector} of {described(client)} wrote a structure output of "
                f"type {type(arguments.structure_output).__name__}, not bytes")
        return IOReturn.INTERNAL_ERROR, [], b""
    if len(structure) > size:
        if size == structure_output_size or size == MAX_VARIABLE_OUTPUT:
            return IOReturn.NO_SPACE, [], b""
        structure = structure[:size]  # what the method said it wrote
    return IOReturn.SUCCESS, scalars, structure


def _lowered(value: object, capacity: int) -> int | None:
    """A count or size the method left at ``value``: a number from 0 to ``capacity``, else
    None (read without running the driver's code)."""
    number = plain_int(value)
    return number if number is not None and 0 <= number <= capacity else None


def _scalars(written: object, count: int) -> list[int] | str:
    """The first ``count`` numbers of ``written``, or what is not a number."""
    if isinstance(written, list):
        values: list[object] = list.__getitem__(written, slice(0, count))
    elif isinstance(written, tuple):
        values = list(tuple.__getitem__(written, slice(0, count)))
    else:
        return short_repr(written)
    numbers: list[int] = []
    for value in values:
        number = plain_int(value)
        if number is None or not -_WRAPS < number < _WRAPS:  # past what C arithmetic makes
            return short_repr(value)
        numbers.append(number & _U64)
    return numbers


def _bytes(structure: object) -> bytes | None:
    if isinstance(structure, memoryview):  # not subclassable
        return structure.tobytes()
    if isinstance(structure, bytes):
        return bytes.__getitem__(structure, slice(None))  # a copy, the subclass's code unrun
    if isinstance(structure, bytearray):
        return bytes(bytearray.__getitem__(structure, slice(None)))
    return None


def _report(kernel: WorkLoop, client: IOUserClient, reference: str, message: str) -> None:
    kernel.report(Diagnostic(reference, message, subject=client.iokit_class_name,
                             hint="the caller got kIOReturnInternalError; the kernel and "
                                  "other clients go on"))
