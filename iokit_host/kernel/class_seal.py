"""The SDK's classes, sealed against a driver's patching (a kext cannot rewrite ``IOService``'s
vtable: OSMetaClass's classes are the kernel's, read-only to every kext).

Here ``IOService`` is a Python class every driver and the host share, and one assignment
(``IOService.get_name = ...``, at import or in a hook) changes every service's behaviour,
the host's own calls included. A metaclass could refuse the assignment, but would break
drivers that mix in an ABC or a Protocol (a metaclass conflict). Instead the seal notices the
change after the fact, cheaply: CPython keeps a version tag per class, valid until the class
or one of its bases is modified (``PyType_Modified``, on every ``setattr``/``delattr`` on the
class). A *sentinel* class derived from SDK classes loses its tag when any of them changes:
one read tells whether anything changed (:func:`_watch`). CPython 3.11 and 3.12 show the
tag's validity as bit 19 of ``type.__flags__``; 3.13 no longer sets that bit, and there the
tag itself (``tp_version_tag``, 0 once invalidated) is read through ctypes, at an offset
found and proved on a probe class before it is trusted. Classes whose instance layouts cannot share one subclass (``int``
subclasses, exceptions, slotted values) get sentinels of their own; the one over the service
classes, :attr:`ClassSeal.hot`, is read before and after every driver call, the others where
the kernel checks the streams (after each work-loop job) and after each kext import.

When a sentinel has lost its bit, :meth:`ClassSeal.repair` compares each class's
``__dict__`` with the copy taken when sealed, puts back what changed (rebound, deleted or
added names) and says what it was. Where the interpreter gives neither (another
implementation or layout, or tags exhausted) the service classes are not checked per call:
:meth:`ClassSeal.intact` compares the dictionaries, after each work-loop job and each kext
import, which costs some 50 us where a driver call costs a few.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

__all__ = ["SEALED_HINT", "ClassSeal", "Watch", "changed_classes", "sdk_seal"]

#: CPython's ``Py_TPFLAGS_VALID_VERSION_TAG`` (set by 3.11 and 3.12).
_VALID = 1 << 19
_MISSING = object()
#: A name looked up on a sentinel to give it (and its bases) a version tag again.
_PROBE = "_iokit_class_seal_probe"
#: What a kext that patched an SDK class is told to do instead.
SEALED_HINT = ("a kext shares the kernel's process: subclass the SDK's classes and override "
               "in the subclass, never assign to them")


def changed_classes(changes: list[str]) -> str:
    """What a driver did that :meth:`ClassSeal.repair` undid, as a diagnostic says it."""
    return f"changed the SDK's classes, which the host and every driver share: " \
        f"{', '.join(changes)}"


class Watch(Protocol):
    """One sentinel's state: ``value`` is true while none of its classes changed."""

    @property
    def value(self) -> int: ...


class _FlagWatch:
    """The tag's validity as ``__flags__`` shows it (CPython 3.11, 3.12)."""

    __slots__ = ("_sentinel",)

    def __init__(self, sentinel: type) -> None:
        self._sentinel = sentinel

    @property
    def value(self) -> int:
        return self._sentinel.__flags__ & _VALID


class _Unwatched:
    """No cheap signal on this interpreter: always "unchanged" (checked per job instead)."""

    __slots__ = ()
    value = 1


#: Pointer-sized fields of ``PyTypeObject`` from ``tp_flags`` (excluded) to ``tp_base`` and
#: to ``tp_mro``, and to ``tp_version_tag`` (CPython 3.11-3.13 share this layout).
_TO_BASE, _TO_MRO, _TO_TAG = 11, 22, 27


def _tag_offset() -> int | None:
    """Where ``tp_version_tag`` lies in a type object, proved on a probe: the flags word holds
    ``__flags__``, ``tp_base`` and ``tp_mro`` point where they must, and the tag is non-zero
    after a lookup, zero after a change and non-zero again after the next lookup."""
    import ctypes

    probe = type("_SealProbe", (), {})
    start, word = id(probe), ctypes.sizeof(ctypes.c_void_p)
    flags = next((offset for offset in range(0, 64 * word, word)
                  if ctypes.c_ulong.from_address(start + offset).value == probe.__flags__), None)
    if flags is None:
        return None
    pointer = ctypes.c_void_p.from_address
    if pointer(start + flags + _TO_BASE * word).value != id(object) \
            or pointer(start + flags + _TO_MRO * word).value != id(probe.__mro__):
        return None
    offset = flags + _TO_TAG * word
    tag = ctypes.c_uint.from_address(start + offset)
    getattr(probe, _PROBE, None)
    assigned = tag.value != 0
    probe.changed = True  # type: ignore[attr-defined]
    cleared = tag.value == 0
    getattr(probe, _PROBE, None)
    return offset if assigned and cleared and tag.value != 0 else None


_OFFSET: list[int | None] = []


def _watch(sentinel: type) -> Watch:
    """The cheapest reliable view of ``sentinel``'s version tag this interpreter allows: the
    tag itself where its place is proved on a probe (a driver call reads it twice, and a
    ``ctypes`` field is read without a Python call), else the flag that says it is valid
    (3.11, 3.12: a property), else none."""
    getattr(sentinel, _PROBE, None)
    if sys.implementation.name == "cpython":
        if not _OFFSET:
            _OFFSET.append(_tag_offset())
        if _OFFSET[0] is not None:
            import ctypes

            # The sentinel lives as long as the seal that holds this view of it.
            tag = ctypes.c_uint.from_address(id(sentinel) + _OFFSET[0])
            if tag.value:
                return tag
    if sentinel.__flags__ & _VALID:
        return _FlagWatch(sentinel)
    return _Unwatched()


def _tagged_again(watch: Watch, sentinel: type) -> bool:
    """Look ``sentinel`` up so it has a version tag again; whether ``watch`` shows one."""
    getattr(sentinel, _PROBE, None)
    return bool(watch.value) and not isinstance(watch, _Unwatched)


def _sdk_classes() -> list[type]:
    """Every class defined in a loaded ``iokit_sdk`` module, bases before subclasses."""
    found: dict[type, None] = {}
    for name, module in list(sys.modules.items()):
        if name != "iokit_sdk" and not name.startswith("iokit_sdk."):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__.startswith("iokit_sdk"):
                found[value] = None
    return sorted(found, key=lambda cls: len(cls.__mro__))


def _sentinels(classes: list[type]) -> list[type]:
    """Classes that together derive from every one of ``classes`` that can be derived from
    (most derived first, so the fewest bases), the first over the service classes."""
    leaves = [cls for cls in classes if not any(
        other is not cls and cls in other.__mro__ for other in classes)]
    leaves.sort(key=lambda cls: -len(cls.__mro__))
    groups: list[list[type]] = []
    for cls in leaves:
        for group in groups:
            if _derivable(*group, cls):
                group.append(cls)
                break
        else:
            if _derivable(cls):
                groups.append([cls])
    return [type("_SealSentinel", tuple(group), {"__slots__": ()}) for group in groups]


def _derivable(*bases: type) -> bool:
    try:
        type("_SealSentinel", bases, {"__slots__": ()})
    except Exception:  # noqa: BLE001 - a layout or metaclass conflict, an enum with members
        return False
    return True


class ClassSeal:
    """The SDK's classes as they were sealed, and the sentinels that tell they changed."""

    def __init__(self) -> None:
        self._module_count = -1
        self.classes: list[type] = []
        self._copies: dict[type, dict[str, Any]] = {}
        self.hot: type = type("_SealSentinel", (), {})
        #: :attr:`hot`'s :class:`Watch`: a driver call reads ``hot_watch.value`` on each side.
        self.hot_watch: Watch = _Unwatched()
        self._cold: list[type] = []  # sentinels read per job, and classes no sentinel covers
        self._watches: list[tuple[Watch, type]] = []
        self._tagged = True
        #: Changes found when a nested driver call began: the enclosing call's (its depth).
        self.pending: list[tuple[int, list[str]]] = []
        self.refresh()

    def refresh(self) -> None:
        """Take the classes as they are now as the sealed state (the host's own changes,
        made outside driver calls, are its to make), including SDK modules loaded since."""
        if len(sys.modules) != self._module_count:
            self._module_count = len(sys.modules)
            self.classes = _sdk_classes()
            sentinels = _sentinels(self.classes)
            service = sys.modules.get("iokit_sdk.service")
            hot = getattr(service, "IOService", None)
            sentinels.sort(key=lambda sentinel: not (hot is not None and issubclass(sentinel, hot)))
            covered = {base for sentinel in sentinels for base in sentinel.__mro__}
            self.hot = sentinels[0] if sentinels else self.hot
            self._cold = sentinels[1:] + [cls for cls in self.classes if cls not in covered]
            self._watches = [(_watch(sentinel), sentinel) for sentinel in (self.hot, *self._cold)]
        self._copies = {cls: dict(cls.__dict__) for cls in self.classes}
        self._revalidate()

    def _revalidate(self) -> None:
        """Give every sentinel a tag again; unwatched when one cannot have one."""
        self._tagged = all(_tagged_again(watch, sentinel) for watch, sentinel in self._watches)
        self.hot_watch = self._watches[0][0] if self._tagged else _Unwatched()

    def hot_intact(self) -> bool:
        """Whether the service classes are as sealed (one read where the tag is watched)."""
        return bool(self.hot_watch.value) if self._tagged else not self._changed()

    def intact(self) -> bool:
        """Whether every SDK class is as sealed."""
        if not self._tagged:
            return not self._changed()
        for watch, _ in self._watches:  # a loop, not all(): read after every work-loop job
            if not watch.value:
                return False
        return True

    def repair(self) -> list[str]:
        """What changed since sealed (``IOService.get_name replaced``), each put back."""
        changes = self._changed()
        for cls, name, verb in changes:
            original = self._copies[cls].get(name, _MISSING)
            try:
                if original is _MISSING:
                    type.__delattr__(cls, name)
                else:
                    type.__setattr__(cls, name, original)
            except (AttributeError, TypeError):  # a slot the interpreter will not take back
                pass
        self._revalidate()
        return [f"{cls.__name__}.{name} {verb}" for cls, name, verb in changes]

    def _changed(self) -> list[tuple[type, str, str]]:
        changes = []
        for cls, copy in self._copies.items():
            now = cls.__dict__
            for name in {*copy, *now}:
                before, after = copy.get(name, _MISSING), now.get(name, _MISSING)
                if before is not after:
                    verb = "added" if before is _MISSING else "deleted" if after is _MISSING \
                        else "replaced"
                    changes.append((cls, name, verb))
        return sorted(changes, key=lambda change: (change[0].__name__, change[1]))


_SEAL: list[ClassSeal] = []


def sdk_seal() -> ClassSeal:
    """The process's seal (one: the SDK's classes are the process's)."""
    if not _SEAL:
        _SEAL.append(ClassSeal())
    return _SEAL[0]
