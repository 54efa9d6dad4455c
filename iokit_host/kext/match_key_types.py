"""What each matching key of a personality takes, checked when the kext is read.

IOKit never refuses a personality for a malformed matching key: it compares what is there,
and an ill-typed value simply never matches (an ``IONameMatch`` dictionary names nothing, a
string ``idVendor`` never equals the device's number, ``IOPCIMatch`` ``"0xZZZZ14e4"`` reads as
0). The host matches the same way; this module says so when the kext is read, naming the key,
what it takes and what it got, instead of leaving a silent never-match. The types are those of
IOKIT_SEMANTICS.md §1.2 (generic keys) and §2 (families); the value strings of a family are
read by the family's own parser (:func:`iokit_host.matching.families.pci.match_entries`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from iokit_sdk import keys

from iokit_host.kext.plist_types import describe
from iokit_host.matching.families import pci, usb

__all__ = ["MATCH_KEYS", "MatchKeyProblem", "check_match_keys"]

ILL_TYPED = "match-key-ill-typed"
MALFORMED = "match-key-malformed"
_NEVER = "the personality never matches"


@dataclass(frozen=True, slots=True)
class MatchKeyProblem:
    """One problem with one matching key.

    :param key: the key, with an element index when one element is at fault (``IONameMatch[1]``).
    :param reference: ``match-key-ill-typed`` or ``match-key-malformed``.
    :param expected: what the key takes; ``got``: what it holds.
    :param effect: what IOKit makes of it.
    """

    key: str
    reference: str
    expected: str
    got: str
    effect: str

    @property
    def message(self) -> str:
        if self.reference == MALFORMED:
            return f"{self.key} is {self.got}, which is malformed: {self.effect}"
        return f"{self.key} is {self.got}, expected {self.expected}; {self.effect}"


Check = Callable[[str, Any], list[MatchKeyProblem]]


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _typed(expected: str, accepts: Callable[[Any], bool], effect: str = _NEVER) -> Check:
    """A key that takes one value of a kind (``accepts``)."""
    def check(key: str, value: Any) -> list[MatchKeyProblem]:
        if accepts(value):
            return []
        return [MatchKeyProblem(key, ILL_TYPED, expected, describe(value), effect)]
    return check


def _one_or_many(expected: str, accepts: Callable[[Any], bool], element: str,
                 effect: str = _NEVER) -> Check:
    """A key that takes one value or an array of them, any of which may match; an element
    of another kind is skipped by IOKit (``OSDynamicCast`` fails), the others still count."""
    def check(key: str, value: Any) -> list[MatchKeyProblem]:
        if accepts(value):
            return []
        if not isinstance(value, list):
            return [MatchKeyProblem(key, ILL_TYPED, expected, describe(value), effect)]
        return [MatchKeyProblem(f"{key}[{index}]", ILL_TYPED, element, describe(item),
                                "IOKit skips this element")
                for index, item in enumerate(value) if not accepts(item)]
    return check


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_dictionary(value: object) -> bool:
    return isinstance(value, Mapping)


_HEX = r"(?:0[xX])?[0-9a-fA-F]+"
#: A well-formed list, which nearly every real personality holds: no need to parse it here.
_WELL_FORMED_PCI = re.compile(rf"\s*{_HEX}(?: *& *{_HEX})?(?:\s+{_HEX}(?: *& *{_HEX})?)*+\s*")


def _pci_string(key: str, value: Any) -> list[MatchKeyProblem]:
    """``value[&mask]`` hex words, read by IOPCIFamily's ``matchKeys`` (§2.1)."""
    if isinstance(value, str) and _WELL_FORMED_PCI.fullmatch(value):
        return []
    expected = "a string of hex value[&mask] words such as 0x43311028&0xffffffff"
    if not isinstance(value, str):
        return [MatchKeyProblem(key, ILL_TYPED, expected, describe(value), _NEVER)]
    entries = list(pci.match_entries(value))
    end = entries[-1].end if entries else 0
    rest = value[end:].strip()
    if not entries:
        return [MatchKeyProblem(key, MALFORMED, expected, describe(value),
                                "it holds no hex number, so " + _NEVER)]
    if rest:
        read = " ".join(f"0x{e.value:08x}" for e in entries)
        return [MatchKeyProblem(key, MALFORMED, expected, describe(value),
                                f"IOPCIFamily stops reading at {rest[:20]!r}, so only {read} "
                                "is compared")]
    if any(e.mask_missing for e in entries):
        return [MatchKeyProblem(key, MALFORMED, expected, describe(value),
                                "an '&' has no mask after it, which reads as mask 0 and "
                                "matches every device")]
    return []


def _usb_number(value: object) -> bool:
    return _is_integer(value) or value == usb.WILDCARD


def _product_array(key: str, value: Any) -> list[MatchKeyProblem]:
    if not isinstance(value, list):
        return [MatchKeyProblem(key, ILL_TYPED, "an array of integers", describe(value),
                                "no product id is compared")]
    return [MatchKeyProblem(f"{key}[{index}]", ILL_TYPED, "an integer", describe(item),
                            "IOUSBFamily skips this element")
            for index, item in enumerate(value) if not _is_integer(item)]


_USB_NUMBER = "an integer (or the string \"*\", which matches any value)"
_USB_PRODUCT_NUMBER_KEYS = usb.USB_KEYS - {usb.PRODUCT_ARRAY, usb.PRODUCT_MASK}
_STRINGS = "a string or an array of strings"

#: Every matching key this host knows, with its check (§1.2, §2.1, §2.3).
MATCH_KEYS: Mapping[str, Check] = {
    keys.NAME_MATCH: _one_or_many(_STRINGS, _is_string, "a string"),
    keys.PROPERTY_MATCH: _one_or_many("a dictionary or an array of dictionaries",
                                      _is_dictionary, "a dictionary"),
    keys.PROPERTY_EXISTS_MATCH: _one_or_many(_STRINGS, _is_string, "a string"),
    keys.PATH_MATCH: _typed("a string (a registry path)", _is_string),
    keys.LOCATION_MATCH: _typed("a string or a dictionary",
                                lambda v: isinstance(v, (str, Mapping)),
                                "IOKit ignores it"),
    keys.PARENT_MATCH: _typed("a dictionary (a matching table)", _is_dictionary,
                              "IOKit ignores it"),
    keys.REGISTRY_ENTRY_ID_MATCH: _typed("an integer", _is_integer),
    keys.MATCHED_SERVICE_COUNT_MATCH: _typed("an integer", _is_integer),
    keys.BSD_NAME: _typed("a string", _is_string),
    "BSD Major": _typed("an integer", _is_integer),
    "BSD Minor": _typed("an integer", _is_integer),
    "BSD Unit": _typed("an integer", _is_integer),
    keys.RESOURCE_MATCH: _one_or_many(_STRINGS, _is_string, "a string",
                                      "IOKit reads no resource name from it"),
    keys.PCI_MATCH: _pci_string,
    keys.PCI_PRIMARY_MATCH: _pci_string,
    keys.PCI_SECONDARY_MATCH: _pci_string,
    keys.PCI_CLASS_MATCH: _pci_string,
    **{key: _typed(_USB_NUMBER, _usb_number, "it never equals the device's value")
       for key in _USB_PRODUCT_NUMBER_KEYS},
    usb.PRODUCT_MASK: _typed("an integer", _is_integer, "IOUSBFamily ignores it"),
    usb.PRODUCT_ARRAY: _product_array,
}


def check_match_keys(personality: Mapping[str, Any]) -> list[MatchKeyProblem]:
    """The problems of every matching key in ``personality``, in the personality's order."""
    found: list[MatchKeyProblem] = []
    for key, value in personality.items():
        check = MATCH_KEYS.get(key)
        if check is not None:
            found += check(key, value)
    return found
