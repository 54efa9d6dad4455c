"""Reading a kext's Info.plist into a KextBundle (``OSKext::setInfoDictionaryAndPath``).

The manifest is read as data, never by importing driver code: an installed driver package's
``Info.plist``, a kext folder (``Foo.kext/Contents/Info.plist``) or a bare plist. Validation
follows the kernel: ``CFBundleIdentifier`` (required, shorter than ``KMOD_MAX_NAME``) and
``CFBundleVersion`` (required, must parse) refuse the kext when wrong; a compatible version
must parse and not exceed the version; ``OS*``/``IO*`` keys honour ``<Key>_<arch>`` overrides
(``getPropertyForHostArch``). Build placeholders are reported and substituted from ``defines``.
A key of the wrong type costs only what it costs the kernel: an optional one is dropped with a
warning (:mod:`~iokit_host.kext.info_keys`), a bad personality is refused alone
(:mod:`~iokit_host.kext.personalities`), and ``OSBundleLibraries`` refuses only a kext with
code. Everything found comes back as :class:`~iokit_host.errors.Diagnostic`; nothing raises.
"""

from __future__ import annotations

import errno
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from iokit_sdk import keys

from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.input_file import read_input_file
from iokit_host.kext import plistxml
from iokit_host.kext.bundle import DistributionInfo, KextBundle
from iokit_host.kext.info_keys import check_optional_keys
from iokit_host.kext.personalities import fix_up_personalities
from iokit_host.kext.placeholders import expand
from iokit_host.kext.plist_types import describe
from iokit_host.kext.plistfile import load_plist, shape_diagnostic
from iokit_host.kext.plistshape import check_tree
from iokit_host.kext.plistvalues import without_unreadable
from iokit_host.kext.version import INVALID, try_parse_version

__all__ = ["KMOD_MAX_NAME", "MAX_MANIFEST_BYTES", "host_arch", "locate_manifest", "parse_info",
           "read_manifest", "read_plist_file"]

KMOD_MAX_NAME = 64
#: Largest manifest read: real ones are a few hundred kilobytes, the largest a few megabytes.
MAX_MANIFEST_BYTES = 64 << 20
BUNDLE_REQUIRED_VALUES = frozenset(
    {"Root", "Local-Root", "Network-Root", "Console", "Safe Boot", "DriverKit"})
#: Keys whose unresolved placeholders refuse the kext (identity and versions).
_IDENTITY_KEYS = (keys.BUNDLE_IDENTIFIER, keys.BUNDLE_VERSION, keys.BUNDLE_COMPATIBLE_VERSION)


def host_arch() -> str:
    """The arch suffix ``getPropertyForHostArch`` uses on this machine (x86_64 or arm64)."""
    machine = platform.machine().lower()
    return {"aarch64": "arm64", "amd64": "x86_64", "i386": "i386"}.get(machine, machine)


def locate_manifest(path: str | Path) -> Path:
    """The Info.plist for a path: itself, ``<kext>/Contents/Info.plist`` or ``<dir>/Info.plist``."""
    path = Path(path)
    # os.path's tests: Path's raise what they cannot tell (a name too long for the system),
    # which the reader reports as this kext's refusal instead.
    if os.path.isdir(path):
        for candidate in (path / "Contents" / "Info.plist", path / "Info.plist"):
            if os.path.isfile(candidate):
                return candidate
        return path / "Contents" / "Info.plist"
    return path


def read_manifest(
    path: str | Path,
    *,
    defines: Mapping[str, str] | None = None,
    package: str | None = None,
    distribution: DistributionInfo | None = None,
    arch: str | None = None,
) -> tuple[KextBundle | None, list[Diagnostic]]:
    """Read and validate one manifest. Returns the bundle (None when refused) and diagnostics.

    :param defines: values for build placeholders (``PRODUCT_BUNDLE_IDENTIFIER`` -> ``com.x``).
    :param package: the driver's import package, when it came from an installed distribution.
    :param arch: the ``_<arch>`` override suffix; the host's arch when None.
    """
    return read_plist_file(locate_manifest(path), defines=defines, package=package,
                           distribution=distribution, arch=arch)


def read_plist_file(
    plist: str | Path,
    *,
    defines: Mapping[str, str] | None = None,
    package: str | None = None,
    distribution: DistributionInfo | None = None,
    arch: str | None = None,
) -> tuple[KextBundle | None, list[Diagnostic]]:
    """:func:`read_manifest` for a path known to be the plist itself (no folder lookup)."""
    try:
        data = read_input_file(plist, limit=MAX_MANIFEST_BYTES)  # a FIFO does not block
    except OSError as error:
        if error.errno == errno.EFBIG:  # there, but past what any manifest holds
            return None, [Diagnostic(
                "manifest-too-large", f"cannot read {Path(plist).name}: {error.strerror}",
                file=str(plist), hint="an Info.plist is a few kilobytes; give the kext's own")]
        return None, [Diagnostic(
            "manifest-not-found", f"cannot read {Path(plist).name}: {error.strerror or error}",
            file=str(plist), hint="give a kext folder, its Contents/Info.plist or a bare plist")]
    careful: list[bool] = []
    info, problem = load_plist(plist, data, careful=careful)
    if problem is not None:
        return None, [problem]
    return parse_info(info, source=str(plist), defines=defines, package=package,
                      distribution=distribution, arch=arch,
                      deep_placeholders=b"$" in data or b"###" in data,
                      shape_checked=True, readable=not careful)


def parse_info(
    info: Mapping[str, Any],
    *,
    source: str | None = None,
    defines: Mapping[str, str] | None = None,
    package: str | None = None,
    distribution: DistributionInfo | None = None,
    arch: str | None = None,
    deep_placeholders: bool = True,
    shape_checked: bool = False,
    readable: bool = False,
) -> tuple[KextBundle | None, list[Diagnostic]]:
    """Validate an info dictionary already in memory (see :func:`read_manifest`).

    :param deep_placeholders: walk every value for ``$(...)`` placeholders; a caller that
        knows the file holds no ``$`` or ``###`` passes False (identity keys are still checked
        for bare macro names).
    :param shape_checked: ``info`` comes straight from :func:`load_plist`, which refused any
        value too deep, cyclic or out of range; other callers' dictionaries are checked here.
    :param readable: ``info`` holds no unreadable value and no key that is not a string (its
        plist's fast path read it): the walk that would leave them out of what is kept is
        spared.
    """
    if not shape_checked:
        try:  # before anything walks it: _expand and matching recurse into values
            check_tree(info)
        except plistxml.PlistShapeError as error:
            return None, [shape_diagnostic(error, source)]
    reader = _Reader(source, defines or {}, arch or host_arch())
    info = reader.expand_all(reader.string_keys(info), deep=deep_placeholders)
    bundle_id = reader.bundle_id(info)
    version, version_value = reader.version(info, keys.BUNDLE_VERSION, bundle_id, required=True)
    if bundle_id is None or version is None:
        return None, reader.found
    info, dropped = check_optional_keys(info, arch=reader.arch, file=source, subject=bundle_id)
    reader.found += dropped
    compat, compat_value = reader.compatible_version(info, bundle_id, version_value)
    has_code = package is not None or isinstance(info.get(keys.BUNDLE_EXECUTABLE), str)
    libraries = reader.libraries(info, bundle_id, has_code=has_code)
    personalities, warnings = fix_up_personalities(
        reader.for_arch(info, keys.KIT_PERSONALITIES), bundle_id, file=source,
        key=reader.arch_key(info, keys.KIT_PERSONALITIES))
    reader.found += warnings
    if reader.refused or libraries is None:
        return None, reader.found
    is_dext = _is_dext(info, personalities)
    bundle = KextBundle(
        bundle_id=bundle_id, version=version, version_value=version_value,
        compatible_version=compat, compatible_version_value=compat_value,
        libraries=MappingProxyType(libraries),
        personalities=MappingProxyType(personalities),
        package=package,
        has_executable=package is not None or (
            isinstance(info.get(keys.BUNDLE_EXECUTABLE), str) and not is_dext),
        required=reader.required(info, bundle_id),
        is_interface=reader.flag(info, keys.BUNDLE_IS_INTERFACE),
        is_kernel_resource=reader.flag(info, keys.KERNEL_RESOURCE),
        is_dext=is_dext,
        # What could not be read was named above; what is kept (and stored) is readable.
        source=source, distribution=distribution,
        info=MappingProxyType(info if readable else without_unreadable(info)),
        diagnostics=tuple(reader.found))
    return bundle, reader.found


def _is_dext(info: Mapping[str, Any], personalities: Mapping[str, Mapping[str, Any]]) -> bool:
    if info.get("CFBundlePackageType") == "DEXT" or info.get(keys.BUNDLE_REQUIRED) == "DriverKit":
        return True
    return any(keys.USER_SERVER_NAME in p for p in personalities.values())


#: A character Apple's bundle identifiers do not hold.
_ID_OUTSIDE = re.compile(r"[^A-Za-z0-9._-]")


def _char_name(char: str) -> str:
    return f"{quoted(char)} (U+{ord(char):04X})"


class _Reader:
    """Validation state for one manifest: where it came from and what was found."""

    def __init__(self, source: str | None, defines: Mapping[str, str], arch: str) -> None:
        self.source = source
        self.defines = defines
        self.arch = arch
        self.found: list[Diagnostic] = []
        self.refused = False
        self.unresolved: dict[str, tuple[str, ...]] = {}

    def error(self, reference: str, message: str, key: str, hint: str,
              subject: str | None = None) -> None:
        self.refused = True
        self.found.append(Diagnostic(reference, message, file=self.source, key=key, hint=hint,
                                     subject=subject))

    def warn(self, reference: str, message: str, key: str, hint: str,
             subject: str | None = None) -> None:
        self.found.append(Diagnostic(reference, message, file=self.source, key=key, hint=hint,
                                     subject=subject, severity=Severity.WARNING))

    def string_keys(self, info: Mapping[Any, Any]) -> dict[str, Any]:
        """``info`` without keys that are not strings (a binary plist can hold them)."""
        kept: dict[str, Any] = {}
        for key, value in info.items():
            if isinstance(key, str):
                kept[key] = value
                continue
            self.warn("manifest-unsupported-value", f"a top-level key is {describe(key)}, "
                      "which the kernel cannot hold (its keys are strings); it is dropped",
                      str(key), "write every <key> as text")
        return kept

    # -- placeholders --------------------------------------------------------------------
    def expand_all(self, info: dict[str, Any], *, deep: bool = True) -> dict[str, Any]:
        if deep:
            expanded = {key: self._expand(value, key, key in _IDENTITY_KEYS)
                        for key, value in info.items()}
        else:
            expanded = info
            for key in _IDENTITY_KEYS:
                if key in info:
                    expanded[key] = self._expand(info[key], key, True)
        minor: dict[str, tuple[str, ...]] = {}
        for key, names in self.unresolved.items():
            top = key.split(".", 1)[0]
            if top in _IDENTITY_KEYS or top.startswith(keys.BUNDLE_LIBRARIES):
                self.error("manifest-build-placeholder",
                           f"unexpanded build placeholder {', '.join(names)}", key,
                           _define_hint(names))
            elif top.startswith(keys.KIT_PERSONALITIES):
                self.warn("manifest-build-placeholder",
                          f"unexpanded build placeholder {', '.join(names)}", key,
                          _define_hint(names))
            else:
                minor[key] = names
        if minor:
            names = tuple(dict.fromkeys(n for group in minor.values() for n in group))
            self.warn("manifest-build-placeholder",
                      f"unexpanded build placeholders in {', '.join(minor)}", ", ".join(minor),
                      _define_hint(names))
        return expanded

    def _expand(self, value: Any, where: str, bare: bool) -> Any:
        if isinstance(value, str):
            if "$" not in value and "#" not in value and not (bare and "_" in value):
                return value
            result = expand(value, self.defines, bare_macros=bare)
            if result.unresolved:
                self.unresolved[where] = result.unresolved
            return result.text
        if isinstance(value, dict):
            return {k: self._expand(v, f"{where}.{k}", where == keys.BUNDLE_LIBRARIES)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._expand(v, f"{where}[{i}]", False) for i, v in enumerate(value)]
        return value

    # -- arch overrides ------------------------------------------------------------------
    def arch_key(self, info: Mapping[str, Any], key: str) -> str:
        """``<Key>_<arch>`` when present for an OS*/IO* key (never CFBundle*), else ``key``."""
        if key.startswith(("OS", "IO")) and f"{key}_{self.arch}" in info:
            return f"{key}_{self.arch}"
        return key

    def for_arch(self, info: Mapping[str, Any], key: str) -> Any:
        return info.get(self.arch_key(info, key))

    # -- keys ----------------------------------------------------------------------------
    def bundle_id(self, info: Mapping[str, Any]) -> str | None:
        value = info.get(keys.BUNDLE_IDENTIFIER)
        key = keys.BUNDLE_IDENTIFIER
        if value is None:
            self.error("manifest-missing-bundle-identifier", "CFBundleIdentifier is missing", key,
                       "add <key>CFBundleIdentifier</key><string>com.example.driver</string>")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error("manifest-bad-bundle-identifier",
                       f"CFBundleIdentifier is {describe(value)}, expected a non-empty string",
                       key, "use a reverse-DNS string such as com.example.driver")
            return None
        size = len(value.encode("utf-8", errors="surrogatepass"))  # OSString::getLength: bytes
        if size >= KMOD_MAX_NAME:
            self.error("manifest-bad-bundle-identifier",
                       f"CFBundleIdentifier is {size} bytes in UTF-8; the limit is "
                       f"{KMOD_MAX_NAME - 1}", key, "shorten the identifier (KMOD_MAX_NAME)")
            return None
        if key in self.unresolved:
            return None
        return value if self._id_characters_ok(value) else None

    def _id_characters_ok(self, value: str) -> bool:
        """Apple's rule for CFBundleIdentifier: ASCII letters, digits, ``-`` and ``.`` (``_``
        too, which shipping kexts use). A control character or a space would also forge
        lines and columns in every listing that prints the id."""
        bad = _ID_OUTSIDE.search(value)
        if bad is None:
            return True
        self.error("manifest-bad-bundle-identifier",
                   f"CFBundleIdentifier {quoted(value)} holds {_char_name(bad[0])} at "
                   f"offset {bad.start()}", keys.BUNDLE_IDENTIFIER,
                   "use only letters, digits, '-' and '.' (reverse-DNS, e.g. "
                   "com.example.driver)")
        return False

    def version(self, info: Mapping[str, Any], key: str, subject: str | None,
                *, required: bool) -> tuple[str | None, int]:
        value = info.get(key)
        if value is None:
            if required:
                self.error("manifest-missing-version", f"{key} is missing", key,
                           "add <key>CFBundleVersion</key><string>1.0.0</string>", subject)
            return None, 0
        if key in self.unresolved:
            return None, INVALID
        if not isinstance(value, str):
            self.error("manifest-bad-version", f"{key} is {describe(value)}, expected a "
                       "version string", key, "write the version as a string, e.g. "
                       "<string>1.2.3</string>", subject)
            return None, INVALID
        parsed = try_parse_version(value)
        if parsed == INVALID:
            self.error("manifest-bad-version", f"{key} {quoted(value)} is not a valid kext version",
                       key, "use MAJOR[.MINOR[.REVISION]][d|a|b|fc LEVEL], at most 4 digits "
                       "per part and a level of 1..255, e.g. 1.2.3b4", subject)
            return None, INVALID
        return value, parsed

    def compatible_version(self, info: Mapping[str, Any], bundle_id: str,
                           version_value: int) -> tuple[str | None, int | None]:
        key = keys.BUNDLE_COMPATIBLE_VERSION
        compat, value = self.version(info, key, bundle_id, required=False)
        if compat is None:
            return None, None
        if value > version_value:
            self.error("manifest-compatible-version-too-new",
                       f"OSBundleCompatibleVersion {compat} is greater than CFBundleVersion "
                       f"{info.get(keys.BUNDLE_VERSION)}", key,
                       "the compatible version must be <= CFBundleVersion", bundle_id)
            return None, None
        return compat, value

    def libraries(self, info: Mapping[str, Any], bundle_id: str, *,
                  has_code: bool) -> dict[str, str] | None:
        """``OSBundleLibraries``; None when the kext is refused for it. Only a kext with code
        needs its libraries (§5.1): for a codeless kext a bad entry is dropped with a warning."""
        key = self.arch_key(info, keys.BUNDLE_LIBRARIES)
        raw = info.get(key)
        report = self.error if has_code else self.warn
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            report("manifest-bad-libraries", f"{key} is {describe(raw)}, expected a "
                   "dictionary", key, "map each library's bundle id to the version you link "
                   "against", bundle_id)
            return None if has_code else {}
        libraries: dict[str, str] = {}
        for library, requested in raw.items():
            where = f"{key}.{library}"
            if where in self.unresolved:
                continue
            if isinstance(library, str) and isinstance(requested, str) \
                    and try_parse_version(requested) != INVALID:
                libraries[library] = requested
                continue
            report("manifest-bad-library-version", _library_problem(library, requested),
                   where, "write the version of the library you built against as a string, "
                   "e.g. <string>1.0.0</string>", bundle_id)
        return None if has_code and self.refused else libraries

    def required(self, info: Mapping[str, Any], bundle_id: str) -> str | None:
        key = self.arch_key(info, keys.BUNDLE_REQUIRED)
        value = info.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.warn("manifest-bad-bundle-required", f"{key} is {describe(value)}, expected "
                      "a string; it is ignored", key,
                      "use one of " + ", ".join(sorted(BUNDLE_REQUIRED_VALUES)), bundle_id)
            return None
        if value not in BUNDLE_REQUIRED_VALUES:
            self.warn("manifest-bad-bundle-required", f"{key} {quoted(value)} is not recognised",
                      key, "use one of " + ", ".join(sorted(BUNDLE_REQUIRED_VALUES)), bundle_id)
            return None
        return value

    def flag(self, info: Mapping[str, Any], name: str) -> bool:
        """A boolean key (ill-typed ones were dropped by :func:`check_optional_keys`)."""
        return info.get(self.arch_key(info, name)) is True


def _library_problem(library: object, requested: object) -> str:
    if not isinstance(library, str):
        return f"a library id is {describe(library)}, expected a string"
    return (f"the version requested of {library} is {describe(requested)}, expected a kext "
            "version string such as 1.0.0")


def _define_hint(names: tuple[str, ...]) -> str:
    given = " ".join(f"--define {name}=…" for name in names)
    return f"pass {given} (defines={{...}} in code); a built kext has these expanded by Xcode"
