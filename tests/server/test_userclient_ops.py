"""User-client requests: the common call's one-pass check answers exactly as the field-by-field
one (``_checked_call``) for any message, well-formed or not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk import IOReturn

from iokit_host.host import IOKitHost
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.peer import peer_of
from iokit_host.server.registry_ops import add_handles
from iokit_host.server.session import Session
from iokit_host.server.userclient_ops import _checked_call, call

_U64 = (1 << 64) - 1
_MISSING = object()


@pytest.fixture
def opened(uc_host: IOKitHost) -> Iterator[tuple[KernelContext, Session, int]]:
    ctx = KernelContext.for_host(uc_host)
    kernel_end, client_end = socket.socketpair()
    peer = peer_of(kernel_end)
    session = Session(kernel_end, peer, peer.task(ctx.policy))
    (driver,) = uc_host.kernel.copy_matching_services({"IOProviderClass": "TestUCDriver"})
    connection = ctx.user_clients.open(driver, session.task, 0)
    assert not isinstance(connection, int)
    (handle,) = add_handles(session, [connection])
    with kernel_end, client_end:
        yield ctx, session, handle


def _answer(op: Any, ctx: KernelContext, session: Session, message: dict[str, Any]
            ) -> dict[str, Any]:
    try:
        fields = dict(op(ctx, session, Args(message)))
    except BadRequest as error:
        return {"ret": error.code, "message": str(error)}
    fields.setdefault("ret", IOReturn.SUCCESS)
    return fields


def test_the_common_call_runs_the_method(opened: tuple[KernelContext, Session, int]) -> None:
    ctx, session, handle = opened
    message = {"op": "call", "id": 1, "connect": handle, "selector": 3, "scalars": [40, 2],
               "struct": b"", "scalar_out": 1, "struct_out": 0}
    assert _answer(call, ctx, session, message) == {"ret": 0, "scalars": [42], "struct": b""}
    message["scalar_out"] = 2  # the dispatch entry says one
    assert _answer(call, ctx, session, message) == {"ret": IOReturn.BAD_ARGUMENT}


_FIELD = st.one_of(
    st.just(_MISSING), st.none(), st.booleans(),
    st.integers(min_value=-5, max_value=20), st.integers(min_value=-(1 << 65), max_value=1 << 65),
    st.sampled_from([0xFFFFFFFF, 0x100000000, _U64, -3]),
    st.binary(max_size=8), st.text(max_size=3),
    st.lists(st.one_of(st.integers(min_value=-2, max_value=_U64 + 1), st.booleans(),
                       st.none()), max_size=18))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(selector=st.one_of(st.integers(min_value=0, max_value=9), _FIELD),
       scalars=st.one_of(st.lists(st.integers(min_value=0, max_value=_U64), max_size=3),
                         _FIELD),
       structure=_FIELD,
       scalar_out=st.one_of(st.integers(min_value=0, max_value=2), _FIELD),
       struct_out=st.one_of(st.sampled_from([0, 4, -3]), _FIELD),
       connect=st.sampled_from(["mine", "mine", "other", _MISSING, True]))
def test_any_call_message_is_answered_as_the_field_by_field_check_answers(
        opened: tuple[KernelContext, Session, int], selector: object, scalars: object,
        structure: object, scalar_out: object, struct_out: object, connect: object) -> None:
    ctx, session, handle = opened
    message: dict[str, Any] = {"op": "call", "id": 7}
    fields = {"connect": {"mine": handle, "other": handle + 4}.get(str(connect), connect),
              "selector": selector, "scalars": scalars, "struct": structure,
              "scalar_out": scalar_out, "struct_out": struct_out}
    message.update({key: value for key, value in fields.items() if value is not _MISSING})
    assert _answer(call, ctx, session, message) == _answer(_checked_call, ctx, session,
                                                           message)
