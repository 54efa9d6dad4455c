"""USB family matching: IOUSBFamily's ``IOUSBDevice::matchPropertyTable`` and
``IOUSBInterface::matchPropertyTable`` (Apple QA1076), for legacy ``IOUSBDevice``/``IOUSBInterface``
and modern ``IOUSBHostDevice``/``IOUSBHostInterface`` nubs.

A personality scores by the first row of a ladder whose key combination it satisfies; no row
means no match. "Required" keys must be in the personality and equal to the nub's (or ``"*"``),
"optional" keys must be equal when present, "absent" keys must not be in the personality.

Device nubs (class keys ``bDeviceClass``/``SubClass``/``Protocol``)::

    100000  vendor product release          optional: class subclass protocol
     90000  vendor product                  optional: release class subclass protocol
     80000  vendor subclass protocol        optional: class; absent: product release   (nub class 0xFF)
     70000  vendor subclass                 optional: class; absent: protocol product release (0xFF)
     60000  class subclass protocol         absent: vendor product release             (nub class != 0xFF)
     50000  class subclass                  absent: protocol vendor product release    (!= 0xFF)

Interface nubs use ``bInterfaceClass``/``SubClass``/``Protocol``; rows 100000 and 90000 also
require ``bConfigurationValue`` and ``bInterfaceNumber``, every lower row requires them absent,
and the 0xFF tests read the nub's ``bInterfaceClass``.

Then: the personality's ``IOProbeScore`` (a number; 9000 when it is 10000 or more) is added,
1000 is taken off for each ``"*"`` among the row's keys, and 500 when the product id matched only
through ``idProductMask``. ``idProductArray`` (numbers) replaces the ``idProduct`` test and counts
as a product key for "absent".

A matching pass reads the nub's USB properties once (:func:`usb_facts`) for all its candidates. IOUSBHostFamily is closed source; Apple documents the same
combinations in the same order, so the legacy numbers are used for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import PROBE_SCORE
from iokit_sdk.values import values_equal

__all__ = [
    "USB_KEYS",
    "USBFacts",
    "USBMatch",
    "usb_device_match_property_table",
    "usb_facts",
    "usb_failed_key",
    "usb_failure",
    "usb_family_match",
    "usb_interface_match_property_table",
    "usb_score",
]

VENDOR, PRODUCT, RELEASE = "idVendor", "idProduct", "bcdDevice"
PRODUCT_ARRAY, PRODUCT_MASK = "idProductArray", "idProductMask"
CONFIG, INTERFACE = "bConfigurationValue", "bInterfaceNumber"
DEVICE_CLASS = ("bDeviceClass", "bDeviceSubClass", "bDeviceProtocol")
INTERFACE_CLASS = ("bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol")
USB_KEYS = frozenset({VENDOR, PRODUCT, RELEASE, PRODUCT_ARRAY, PRODUCT_MASK, CONFIG, INTERFACE,
                      *DEVICE_CLASS, *INTERFACE_CLASS})
VENDOR_SPECIFIC = 0xFF
WILDCARD = "*"
SCORE_CAP, SCORE_CAP_FROM = 9000, 10000
WILDCARD_PENALTY, MASK_PENALTY = 1000, 500


@dataclass(frozen=True, slots=True)
class USBMatch:
    """The outcome of the ladder: ``score`` 0 means no row applied."""

    matched: bool
    score: int
    base: int
    wildcards: int = 0
    used_mask: bool = False


@dataclass(frozen=True, slots=True)
class _Key:
    """The outcome of testing one key: present on the nub, matched, matched by wildcard."""

    present: bool
    matches: bool
    wildcard: bool = False


# The four outcomes of one key's test: shared, as a pass makes thousands of them.
_ABSENT_KEY, _MISSED, _EQUAL, _WILD = (_Key(False, False), _Key(True, False), _Key(True, True),
                                       _Key(True, True, True))


@dataclass(frozen=True, slots=True)
class USBFacts:
    """What USB matching reads of one nub, read once per matching pass: its USB properties
    (None when absent) and whether its device or interface class is vendor-specific."""

    nub: IORegistryEntry
    values: Mapping[str, Any]
    device_vendor_specific: bool
    interface_vendor_specific: bool


def usb_facts(nub: IORegistryEntry) -> USBFacts:
    values = {key: nub.get_property(key) for key in USB_KEYS}

    def vendor_specific(key: str) -> bool:
        value = values[key]
        return value is not None and values_equal(value, VENDOR_SPECIFIC)

    return USBFacts(nub, values, vendor_specific(DEVICE_CLASS[0]),
                    vendor_specific(INTERFACE_CLASS[0]))


def _compare(table: Mapping[str, Any], facts: USBFacts, key: str) -> _Key:
    if key not in table:
        return _ABSENT_KEY
    wanted = table[key]
    if wanted == WILDCARD:
        return _WILD
    actual = facts.values[key]
    return _EQUAL if actual is not None and values_equal(wanted, actual) else _MISSED


def _product(table: Mapping[str, Any], facts: USBFacts) -> tuple[_Key, bool]:
    """The product-id test with ``idProductArray`` and ``idProductMask``: (key, used mask)."""
    actual = facts.values[PRODUCT]
    if PRODUCT_ARRAY in table:
        wanted = table[PRODUCT_ARRAY]
        values = list(wanted) if isinstance(wanted, (list, tuple)) else []
        key = _EQUAL if actual is not None and any(values_equal(v, actual) for v in values) \
            else _MISSED
    else:
        key = _compare(table, facts, PRODUCT)
        values = [table[PRODUCT]] if PRODUCT in table else []
    mask = table.get(PRODUCT_MASK)
    if key.matches or not isinstance(mask, int) or isinstance(mask, bool):
        return key, False
    if not isinstance(actual, int) or isinstance(actual, bool):
        return key, False
    hit = any(isinstance(v, int) and not isinstance(v, bool) and v & mask == actual & mask
              for v in values)
    return (_EQUAL, True) if hit else (key, False)


def _probe_score(table: Mapping[str, Any]) -> int:
    value = table.get(PROBE_SCORE, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        return 0  # a string IOProbeScore counts as 0
    value &= 0xFFFFFFFF
    value = value - (1 << 32) if value >= 1 << 31 else value  # read as SInt32
    return SCORE_CAP if value >= SCORE_CAP_FROM else value


def usb_score(nub: IORegistryEntry, table: Mapping[str, Any], *, interface: bool) -> USBMatch:
    """The QA1076 ladder for ``table`` on a device (``interface=False``) or interface nub."""
    return _score(table, usb_facts(nub), interface)


def _score(table: Mapping[str, Any], facts: USBFacts, interface: bool) -> USBMatch:
    if interface:
        class_keys, vendor_specific = INTERFACE_CLASS, facts.interface_vendor_specific
    else:
        class_keys, vendor_specific = DEVICE_CLASS, facts.device_vendor_specific
    vendor = _compare(table, facts, VENDOR)
    if vendor is _ABSENT_KEY:
        return _class_rows(table, facts, class_keys, interface, vendor_specific)
    if not vendor.matches:
        return _NO_MATCH  # rows 100000 to 70000 need it to match, the class rows absent
    product, used_mask = _product(table, facts)
    release = _compare(table, facts, RELEASE)
    klass, sub, proto = (_compare(table, facts, key) for key in class_keys)
    config, number = _compare(table, facts, CONFIG), _compare(table, facts, INTERFACE)

    def optional(*keys: _Key) -> bool:
        return all(k.matches or not k.present for k in keys)

    def absent(*keys: _Key) -> bool:
        return not any(k.present for k in keys)

    addressed = (config.matches and number.matches) if interface else True
    unaddressed = absent(config, number) if interface else True
    rows: tuple[tuple[int, bool, tuple[_Key, ...]], ...] = (
        (100000, vendor.matches and product.matches and release.matches and addressed
         and optional(klass, sub, proto), (vendor, product, release, config, number, klass, sub,
                                           proto)),
        (90000, vendor.matches and product.matches and addressed
         and optional(release, klass, sub, proto), (vendor, product, release, config, number,
                                                    klass, sub, proto)),
        (80000, vendor.matches and sub.matches and proto.matches and optional(klass)
         and absent(product, release) and unaddressed and vendor_specific,
         (vendor, klass, sub, proto)),
        (70000, vendor.matches and sub.matches and optional(klass)
         and absent(proto, product, release) and unaddressed and vendor_specific,
         (vendor, klass, sub)),
        (60000, klass.matches and sub.matches and proto.matches
         and absent(vendor, product, release) and unaddressed and not vendor_specific,
         (klass, sub, proto)),
        (50000, klass.matches and sub.matches
         and absent(proto, vendor, product, release) and unaddressed and not vendor_specific,
         (klass, sub)),
    )
    for base, applies, keys in rows:
        if applies:
            wildcards = sum(1 for k in keys if k.wildcard)
            score = base + _probe_score(table) - WILDCARD_PENALTY * wildcards
            score -= MASK_PENALTY if used_mask else 0
            return USBMatch(True, score, base, wildcards, used_mask)
    return _NO_MATCH


_NO_MATCH = USBMatch(False, 0, 0)


def _class_rows(table: Mapping[str, Any], facts: USBFacts, class_keys: tuple[str, ...],
                interface: bool, vendor_specific: bool) -> USBMatch:
    """Rows 60000 and 50000, the only ones a personality without ``idVendor`` can take
    (:func:`_score`'s ladder, with what the absent vendor decides worked out first)."""
    if vendor_specific or PRODUCT in table or PRODUCT_ARRAY in table or RELEASE in table:
        return _NO_MATCH
    if interface and (CONFIG in table or INTERFACE in table):
        return _NO_MATCH
    klass = _compare(table, facts, class_keys[0])
    if not klass.matches:
        return _NO_MATCH
    sub = _compare(table, facts, class_keys[1])
    if not sub.matches:
        return _NO_MATCH
    proto = _compare(table, facts, class_keys[2])
    if proto.matches:
        base, wildcards = 60000, klass.wildcard + sub.wildcard + proto.wildcard
    elif proto is _ABSENT_KEY:
        base, wildcards = 50000, klass.wildcard + sub.wildcard
    else:
        return _NO_MATCH
    score = base + _probe_score(table) - WILDCARD_PENALTY * wildcards
    return USBMatch(True, score, base, wildcards, False)


def usb_family_match(table: Mapping[str, Any], facts: USBFacts, score: int, *, interface: bool
                     ) -> tuple[bool, int, tuple[str, Callable[[], str]] | None]:
    """``matchPropertyTable`` and, on a refusal, :func:`usb_failure`'s answer, in one go on
    a nub's facts: ``(matched, score, failure)``; a miss keeps ``score``."""
    result = _score(table, facts, interface)
    if result.matched:
        return True, result.score, None
    return False, score, _failure(table, facts, interface)


def usb_device_match_property_table(nub: IORegistryEntry, table: Mapping[str, Any],
                                    score: int) -> tuple[bool, int]:
    """``IOUSBDevice::matchPropertyTable``: the device ladder; a miss keeps ``score``."""
    result = usb_score(nub, table, interface=False)
    return (True, result.score) if result.matched else (False, score)


def usb_interface_match_property_table(nub: IORegistryEntry, table: Mapping[str, Any],
                                       score: int) -> tuple[bool, int]:
    """``IOUSBInterface::matchPropertyTable``: the interface ladder; a miss keeps ``score``."""
    result = usb_score(nub, table, interface=True)
    return (True, result.score) if result.matched else (False, score)


def usb_failed_key(nub: IORegistryEntry, table: Mapping[str, Any], *, interface: bool
                   ) -> str | None:
    """For explanations: the key that kept ``table`` off every row, or None when it matches."""
    failure = usb_failure(nub, table, interface=interface)
    return None if failure is None else failure[0]


def usb_failure(nub: IORegistryEntry, table: Mapping[str, Any], *, interface: bool
                ) -> tuple[str, Callable[[], str]] | None:
    """Why ``table`` is on no row for ``nub``: the key and a function that says why with the
    values (for ``idVendor``: ``wants 1452, the device has 1133``), or None when it matches.

    The key is the first USB key given with a value the nub does not have; otherwise the key
    the nearest row still needs (``bConfigurationValue``/``bInterfaceNumber`` for an interface
    personality with vendor and product, the subclass for a class-only one, else ``idVendor``).
    """
    facts = usb_facts(nub)
    if _score(table, facts, interface).matched:
        return None
    return _failure(table, facts, interface)


def _failure(table: Mapping[str, Any], facts: USBFacts, interface: bool
             ) -> tuple[str, Callable[[], str]]:
    nub = facts.nub
    class_keys = INTERFACE_CLASS if interface else DEVICE_CLASS
    what = "interface" if interface else "device"
    for key in (VENDOR, PRODUCT, RELEASE, CONFIG, INTERFACE, *class_keys):
        if key in table and not _compare(table, facts, key).matches and not (
                key == PRODUCT and _product(table, facts)[0].matches):
            return key, partial(_value_reason, key, table[key], nub, what)
    if PRODUCT_ARRAY in table and not _product(table, facts)[0].matches:
        return PRODUCT_ARRAY, partial(_value_reason, PRODUCT_ARRAY, table[PRODUCT_ARRAY], nub,
                                      what, PRODUCT)
    needed = _needed_key(table, interface, class_keys)
    return needed, partial(_row_reason, needed, table, nub, what)


def _needed_key(table: Mapping[str, Any], interface: bool, class_keys: tuple[str, ...]) -> str:
    if interface and VENDOR in table and (PRODUCT in table or PRODUCT_ARRAY in table):
        return CONFIG if CONFIG not in table else INTERFACE
    if class_keys[0] in table:
        return class_keys[1]
    return VENDOR


def _value_reason(key: str, wanted: object, nub: IORegistryEntry, what: str,
                  nub_key: str | None = None) -> str:
    actual = nub.get_property(nub_key or key)
    return f"wants {_shown(wanted)}, the {what} has {_shown(actual)}"


def _shown(value: object) -> str:
    """A value as the personality or ioreg writes it: numbers plain, whatever their width."""
    if value is None:
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return repr(value)


def _row_reason(key: str, table: Mapping[str, Any], nub: IORegistryEntry, what: str) -> str:
    given = ", ".join(k for k in table if k in USB_KEYS) or "no USB keys"
    class_value = nub.get_property(INTERFACE_CLASS[0] if what == "interface" else DEVICE_CLASS[0])
    return (f"no QA1076 row takes the combination {given} on this {what} (its class is "
            f"{_shown(class_value)}); the nearest row also needs "
            f"{key}")
