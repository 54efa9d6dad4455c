"""Whatever a driver process replies, the kernel applies what reads and reports the rest."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import camera_driver, dexts

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=8), st.binary(max_size=8))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
_PARTS = st.fixed_dictionaries({}, optional={
    "props": _VALUES, "removed": _VALUES,
    "others": st.lists(st.tuples(st.integers(0, 3), _VALUES, _VALUES).map(list), max_size=2)
    | _VALUES,
    "published": st.lists(st.fixed_dictionaries({}, optional={
        "provider": _VALUES, "chain": _VALUES, "name": _VALUES, "location": _VALUES,
        "props": _VALUES}), max_size=2) | _VALUES,
    "requests": st.lists(st.fixed_dictionaries({}, optional={
        "op": st.sampled_from(["terminate", "publish_resource", "other"]) | _VALUES,
        "obj": _VALUES, "key": _VALUES, "value": _VALUES, "options": _VALUES}), max_size=2),
})
OURS = {"dext-bad-property"}


def test_any_reply_is_applied_or_reported_never_raised(dext_host):
    host = dext_host()
    manager = dexts(host)
    record, = manager.servers.values()
    driver = camera_driver(host)

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_PARTS)
    def apply(reply):
        before = len(host.diagnostics)
        manager.effects.apply(record, driver, reply)
        assert {d.reference for d in host.diagnostics[before:]} <= OURS

    apply()
