"""The driver-process codec is the kernel socket's, byte for byte, both ways."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.iokitlib import wire
from iokit_sdk.values import OSNumber

from iokit_host.dext.codec import HEADER, ext_hook, fit_integers, new_packer

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1),
                     st.text(max_size=6), st.binary(max_size=6),
                     st.builds(OSNumber, st.integers(0, (1 << 32) - 1), st.sampled_from(
                         [8, 16, 32, 64])),
                     st.frozensets(st.integers(0, 9), max_size=3))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _VALUES, max_size=4))
def test_frames_equal_the_kernel_sockets_and_decode_to_the_same_values(message):
    body = new_packer().pack(message)
    assert HEADER.pack(len(body)) + body == wire.pack(message)
    ours = msgpack.unpackb(body, raw=False, ext_hook=ext_hook, strict_map_key=True)
    theirs = wire.FrameReader(1 << 20).feed(wire.pack(message))[0]
    assert ours == theirs


def test_integers_past_64_bits_are_cut_as_the_kernel_socket_cuts_them():
    value = {"big": 1 << 70, "nested": [1 << 65]}
    assert fit_integers(value) == wire.fit_integers(value)
