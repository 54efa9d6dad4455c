"""``smc-read KEY`` and ``smc-write KEY HEX``: the SMC tools, talking to a running kernel.

As the ``smc`` tool does on a Mac, each opens ``AppleSMCClient`` on the ``AppleSMC`` service
from its own process (IOKitLib over the kernel's socket: ``--kernel PATH``, else
``$IOKIT_KERNEL``, else the per-user socket) and calls one method. ``smc-read`` prints
``  KEY  [type]  value (bytes ..)``; ``smc-write`` takes the value as hex bytes (``07d0``), of
the key's size. Errors are one line on stderr: exit 1 for what the SMC or the kernel refused,
2 for a bad command line, 3 when no kernel can be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from iokit_sdk.iokitlib import (
    IO_OBJECT_NULL,
    IOConnectCallStructMethod,
    IOReturnError,
    IOServiceClose,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    KernelConnectionError,
    MainPort,
    io_connect_t,
    kIOConnectMethodVarOutputSize,
    mach_task_self,
)
from iokit_sdk.returns import IOReturn

from iokit_sample_smc.client import WRITE_ENTITLEMENT, Selector
from iokit_sample_smc.keys import KEY_LENGTH, MAX_DATA, decode

__all__ = ["read_main", "write_main"]

EXIT_REFUSED, EXIT_USAGE, EXIT_NO_KERNEL = 1, 2, 3


class ToolError(Exception):
    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        self.status = status
        super().__init__(message)


def _parser(prog: str, write: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=(
        "write an SMC key (needs com.example.smc.write)" if write else "read an SMC key"))
    parser.add_argument("key", help="the four-character key, e.g. TC0P or F0Mn")
    if write:
        parser.add_argument("value", help="the new value as hex bytes, e.g. 07d0")
    parser.add_argument("--kernel", metavar="PATH", default=None,
                        help="the running kernel's socket (default: $IOKIT_KERNEL, else the "
                             "per-user socket)")
    return parser


def _key(name: str) -> bytes:
    if len(name) != KEY_LENGTH or not name.isascii():
        raise ToolError(f"an SMC key is four ASCII characters, not {name!r}", EXIT_USAGE)
    return name.encode("ascii")


def _value(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ToolError(f"the value must be hex bytes such as 07d0, not {text!r}",
                        EXIT_USAGE) from None
    if not 0 < len(value) <= MAX_DATA:
        raise ToolError(f"the value must be 1 to {MAX_DATA} bytes", EXIT_USAGE)
    return value


def _open(port: MainPort) -> io_connect_t:
    service = IOServiceGetMatchingService(port, IOServiceMatching("AppleSMC"))
    if service == IO_OBJECT_NULL:
        raise ToolError("the running kernel has no AppleSMC (is iokit-sample-smc installed "
                        "where the kernel runs?)")
    return IOServiceOpen(service, mach_task_self(), 0)


def _explain(error: IOReturnError, key: str, action: str) -> str:
    if error.code == IOReturn.NOT_FOUND:
        return f"no SMC key {key!r} (kIOReturnNotFound)"
    if error.code == IOReturn.NOT_PRIVILEGED:
        return (f"not permitted to {action} SMC keys: kIOReturnNotPrivileged (the kernel's "
                f"entitlement policy does not grant {WRITE_ENTITLEMENT} to this user)")
    if error.code == IOReturn.NOT_WRITABLE:
        return f"SMC key {key!r} is read-only (kIOReturnNotWritable)"
    if error.code == IOReturn.BAD_ARGUMENT:
        return f"SMC key {key!r} does not take that value: wrong size (kIOReturnBadArgument)"
    return f"the SMC refused to {action} {key!r}: {error.name}"


def _run(prog: str, argv: Sequence[str] | None, write: bool) -> int:
    args = _parser(prog, write).parse_args(argv)
    try:
        key = _key(args.key)
        value = _value(args.value) if write else b""
        with MainPort(args.kernel) as port:
            connect = _open(port)
            try:
                if write:
                    IOConnectCallStructMethod(connect, Selector.WRITE_KEY, key + value, 0)
                    print(f"  {args.key}  <- {value.hex(' ')}")
                else:
                    out = IOConnectCallStructMethod(connect, Selector.READ_KEY, key,
                                                    kIOConnectMethodVarOutputSize)
                    key_type, data = out[:KEY_LENGTH].decode("ascii", "replace"), out[KEY_LENGTH:]
                    print(f"  {args.key}  [{key_type}]  {decode(key_type, data)} "
                          f"(bytes {data.hex(' ')})")
            finally:
                IOServiceClose(connect)
    except ToolError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return error.status
    except KernelConnectionError as error:
        reason = str(error).partition(": ")[2] or str(error)  # without the IOReturn prefix
        print(f"{prog}: cannot use the iokit kernel: {reason}", file=sys.stderr)
        return EXIT_NO_KERNEL
    except IOReturnError as error:
        print(f"{prog}: {_explain(error, args.key, 'write' if write else 'read')}",
              file=sys.stderr)
        return EXIT_REFUSED
    return 0


def read_main(argv: Sequence[str] | None = None) -> int:
    return _run("smc-read", argv, write=False)


def write_main(argv: Sequence[str] | None = None) -> int:
    return _run("smc-write", argv, write=True)


if __name__ == "__main__":  # python -m iokit_sample_smc.tool read|write ...
    command = sys.argv[1:2]
    main = write_main if command == ["write"] else read_main
    sys.exit(main(sys.argv[2:]))
