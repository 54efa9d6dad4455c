"""The daily crash limit counts on the host clock."""

from __future__ import annotations

from iokit_host.dext.crashes import MAX_CRASHES_PER_DAY, WINDOW_NS, CrashLedger


def test_more_than_three_crashes_in_a_day_limit_and_the_window_slides():
    ledger = CrashLedger()
    for at in range(MAX_CRASHES_PER_DAY):
        ledger.record("s", at, "killed")
    assert not ledger.limited("s", 10)
    ledger.record("s", 10, "killed")
    assert ledger.limited("s", 10)
    assert ledger.window_ends_ns("s", 10) == WINDOW_NS  # the oldest (t=0) leaves
    assert not ledger.limited("s", WINDOW_NS)
    assert ledger.total["s"] == 4


def test_servers_are_counted_apart():
    ledger = CrashLedger()
    for at in range(4):
        ledger.record("a", at, "x")
    assert ledger.limited("a", 5) and not ledger.limited("b", 5)
