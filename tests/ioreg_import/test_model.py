"""From a read dump to a machine model: what damage beside the platform entry costs."""

from __future__ import annotations

from iokit_host.conformance import check_model
from iokit_host.ioreg_import import parse_dump

TEXT = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>
    +-o A  <class IOService, id 0x100000111, registered, retain 4>
  +-o Other  <class IOService, id 0x100000999, registered, retain 4>
    +-o A  <class IOService, id 0x100000111, registered, retain 4>
    +-o B  <class IOService, id 0x100000112, registered, retain 4>
"""


def test_entries_beside_the_platform_entry_are_dropped_with_a_warning() -> None:
    model = parse_dump(TEXT, source="d.txt")
    assert [nub.name for _, nub in model.nubs()] == ["Mac", "A"]
    (warning,) = model.diagnostics
    assert (warning.reference, warning.key) == ("ioreg-dump-bad-entry", "line 4")
    assert warning.context["lost"] == 1  # B; A is in the model under Mac


def test_a_reprint_under_a_dropped_entry_names_no_missing_parent() -> None:
    model = parse_dump(TEXT, source="d.txt")
    (a,) = model.root.children
    assert a.planes == ()  # 'Other' is not in the model, so it is no parent of A
    assert check_model(model).attachments == 0  # the model builds
