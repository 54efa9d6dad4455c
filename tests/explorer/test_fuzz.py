"""Any request a browser or a script can make gets an answer or a JSON diagnostic with a
stable reference: never a 5xx, never a traceback in the kernel's log."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from explorerkit import Explorer, ExplorerFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = ["/api/entries/", "/api/match/", "/api/planes/", "/api/search?q=",
          "/api/search?field=", "/static/", "/api/", "/"]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), tail=st.text(max_size=300))
def test_any_path_or_query_is_answered_or_refused_with_a_diagnostic(
        explorer: Explorer, route: str, tail: str) -> None:
    status, body = explorer.get(route + quote(tail, safe=""))
    assert status < 500, body
    if status >= 400:
        assert body["error"]["reference"].startswith("explorer-"), body


def test_the_kernel_log_has_no_traceback(explorer: Explorer) -> None:
    assert "Traceback" not in explorer.stderr()


@pytest.fixture(scope="module")
def writable(explorer_factory: ExplorerFactory) -> Explorer:
    return explorer_factory.start("--allow-events")


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
EVENT = st.dictionaries(
    st.sampled_from(["action", "path", "ms", "reason", "parent", "nub", "at-ns", "state",
                     "x"]),
    st.sampled_from(["unplug", "plug", "advance", "wake", "idle", "tickle", "publish",
                     "explode", "ARPT", "SMC"]) | SCALARS
    | st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
    max_size=4)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.builds(lambda events: {"events": events}, st.lists(EVENT, max_size=4)),
                      st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
                      st.lists(SCALARS, max_size=3), SCALARS))
def test_any_events_body_is_applied_or_refused_with_a_diagnostic(writable: Explorer,
                                                                 body: object) -> None:
    status, answer = writable.post("/api/events", json.dumps(body).encode(),
                                   headers={"Content-Type": "application/json"})
    assert status in (200, 400), answer
    if status == 400:
        assert answer["error"]["reference"] == "explorer-bad-body"
    else:
        assert all(d["reference"].startswith("scenario-") for d in answer["diagnostics"])
    assert "Traceback" not in writable.stderr()
