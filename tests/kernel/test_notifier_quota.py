"""How many notifiers one kext may hold: a handler that installs a notification each time it
is called is stopped at the kext's quota, named, and the boot goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService

from iokit_host.kernel.notifier_quota import MAX_NOTIFIERS_PER_KEXT, NotificationLimit

SOURCE = '''\
from iokit_sdk import IOService


class Greedy(IOService):
    def start(self, provider):
        {body}
        self.register_service()
        return True

    def again(self, service, *rest):
        {body}
'''
MATCHING = 'self.add_matching_notification("matched", {"IOProviderClass": "IOService"}, self.again)'


def test_a_handler_that_installs_a_notification_each_call_stops_at_the_kexts_quota(
        package_dir: Path) -> None:
    (package_dir / "greedy_matching").mkdir()
    (package_dir / "greedy_matching" / "__init__.py").write_text(
        SOURCE.format(body=MATCHING))
    greedy = kext("com.test.greedy", {"g": personality("Greedy", score=9000)},
                  package="greedy_matching")
    host = make_host([wifi_nub(), wifi_nub(location="1")], [greedy]).boot()
    notifications = host.kernel.notifications
    # Each handler call installs another, which is delivered every service already matched:
    # without a bound, thousands per service (nested 32 deep) before the boot could end.
    assert notifications.quota.held("com.test.greedy") == MAX_NOTIFIERS_PER_KEXT
    assert len(notifications) == MAX_NOTIFIERS_PER_KEXT
    refusals = [d for d in host.diagnostics if "[notification-limit]" in d.message]
    assert "com.test.greedy holds 1024 notifiers already" in refusals[0].message
    # Thousands of refused calls (nested too deep, or past the quota), each handler's
    # first reported and the rest counted: the user reads a few lines, not thousands.
    assert len(host.diagnostics) <= 4
    assert sum(host.kernel.runaway_faults.values()) > 100
    # The kext's notifiers already installed still hear; removing one frees a place.
    first = notifications._by_kind["matched"][0]
    first.remove()
    assert notifications.quota.held("com.test.greedy") == MAX_NOTIFIERS_PER_KEXT - 1


def test_the_hosts_own_notifications_do_not_count_against_a_kext() -> None:
    host = make_host([wifi_nub()], []).boot()
    for _ in range(MAX_NOTIFIERS_PER_KEXT + 5):
        host.add_matching_notification("terminated", {"IOProviderClass": "IOService"},
                                       lambda service: None)
    assert len(host.kernel.notifications) == MAX_NOTIFIERS_PER_KEXT + 5


def test_interest_notifiers_count_too_and_come_back_when_removed() -> None:
    host = make_host([wifi_nub()], []).boot()
    kernel, nub = host.kernel, host.find("pci14e4,4331")
    installed = [kernel.interest.install(nub, lambda *a: None, kext="com.test.k")
                 for _ in range(MAX_NOTIFIERS_PER_KEXT)]
    with pytest.raises(NotificationLimit, match="com.test.k holds 1024 notifiers already"):
        kernel.interest.install(nub, lambda *a: None, kext="com.test.k")
    installed[0].remove()
    kernel.interest.install(nub, lambda *a: None, kext="com.test.k")


def test_a_freed_service_gives_its_interest_notifiers_places_back() -> None:
    host = make_host([wifi_nub()], []).boot()
    interest = host.kernel.interest
    service = IOService()
    interest.install(service, lambda *a: None, kext="com.test.k")
    assert interest.quota.held("com.test.k") == 1
    del service
    assert interest.quota.held("com.test.k") == 0
